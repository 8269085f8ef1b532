module github.com/libaios/libaios/bindings/go

go 1.24
