#!/usr/bin/env python3
"""Unit tests of scripts/check-abi's parsers (ctest abi_check_selftest).

abi_symbols is only as good as the header and map parsers behind it: these
tests feed them the declarations a public header may hold (split over lines,
with attributes, in comments, in macros) and the map mistakes a developer
may make, and check what they find.

usage: test_check_abi.py <path to scripts/check-abi>
"""

import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import textwrap
import unittest


def load_check_abi(path):
    loader = importlib.machinery.SourceFileLoader("check_abi", path)
    spec = importlib.util.spec_from_loader("check_abi", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


CHECK_ABI = None


class HeaderParser(unittest.TestCase):
    def parse(self, files):
        with tempfile.TemporaryDirectory() as tmp:
            include = os.path.join(tmp, "include", "aios")
            for name, text in files.items():
                path = os.path.join(include, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(textwrap.dedent(text))
            return CHECK_ABI.parse_headers(include)

    def test_declaration_forms(self):
        decls, problems = self.parse({"core.h": """
            #ifndef AIOS_CORE_H
            #define AIOS_CORE_H
            #include "aios/export.h"
            #define AIOS_SOMETHING(x) \\
                AIOS_API int aios_in_a_macro(void);
            AIOS_BEGIN_DECLS
            /* AIOS_API int aios_in_a_comment(void); */
            // AIOS_API int aios_in_a_line_comment(void);
            AIOS_API const char *aios_plain(int status);
            AIOS_NODISCARD AIOS_API int aios_nodiscard(void);
            AIOS_NODISCARD
            AIOS_API
            int
            aios_split(const char *s /* ; */,
                       size_t n);
            AIOS_DEPRECATED("use aios_plain(); not this") AIOS_API int aios_deprecated(void);
            AIOS_API int (*aios_returns_fn_ptr(void))(int);
            AIOS_API void aios_attr(void) __attribute__((nonnull));
            typedef int (*aios_some_cb)(void *payload);
            typedef struct aios_opts { unsigned int version; int (*fn)(void); } aios_opts;
            static inline int aios_inline_helper(int x) { return x + 1; }
            AIOS_END_DECLS
            #endif
            """})
        self.assertEqual(problems, [])
        self.assertEqual(sorted(decls), ["aios_attr", "aios_deprecated", "aios_nodiscard",
                                         "aios_plain", "aios_returns_fn_ptr", "aios_split"])
        self.assertEqual(decls["aios_split"][0], "include/aios/core.h:12")
        self.assertFalse(decls["aios_plain"][1])

    def test_extern_c_block_and_experimental(self):
        decls, problems = self.parse({"experimental/x.h": """
            #ifdef __cplusplus
            extern "C" {
            #endif
            AIOS_API int aios_x_try(void);
            #ifdef __cplusplus
            }
            #endif
            """})
        self.assertEqual(problems, [])
        self.assertEqual(list(decls), ["aios_x_try"])
        self.assertTrue(decls["aios_x_try"][1])

    def test_mistakes_are_reported(self):
        decls, problems = self.parse({"core.h": """
            int aios_forgot_api(void);
            AIOS_API int aios_twice(void);
            AIOS_API int aios_twice(void);
            AIOS_API extern int aios_data;
            AIOS_API int helper_without_prefix(void);
            """})
        text = "\n".join(problems)
        self.assertIn("aios_forgot_api is declared without AIOS_API", text)
        self.assertIn("aios_twice is declared with AIOS_API again", text)
        self.assertIn("not a function", text)
        self.assertIn("helper_without_prefix", decls)

    def test_opaque_structs(self):
        with tempfile.TemporaryDirectory() as tmp:
            include = os.path.join(tmp, "aios")
            os.makedirs(include)
            with open(os.path.join(include, "a.h"), "w", encoding="utf-8") as f:
                f.write("typedef struct aios_handle aios_handle;\n"
                        "typedef struct aios_opts { int v; } aios_opts;\n"
                        "/* struct aios_in_comment { */\n")
            self.assertEqual(CHECK_ABI.opaque_struct_names(include), {"aios_handle"})


class MapParser(unittest.TestCase):
    def parse(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".map", delete=False) as f:
            f.write(textwrap.dedent(text))
        try:
            return CHECK_ABI.parse_map(f.name)
        finally:
            os.unlink(f.name)

    def test_nodes(self):
        names, problems = self.parse("""
            /* comment: aios_not_a_symbol; */
            AIOS_1.0 {
              global:
                aios_a;
                aios_b;
              local:
                *;
            };
            AIOS_1.1 {
              global:
                aios_c;
            } AIOS_1.0;
            AIOS_EXPERIMENTAL {
              global: aios_x;
            };
            """)
        self.assertEqual(problems, [])
        self.assertEqual(names, {"aios_a": "AIOS_1.0", "aios_b": "AIOS_1.0",
                                 "aios_c": "AIOS_1.1", "aios_x": "AIOS_EXPERIMENTAL"})

    def test_mistakes_are_reported(self):
        names, problems = self.parse("""
            AIOS_1.0 { global: aios_a; aios_*; local: *; };
            AIOS_2 { global: aios_b; aios_a; } AIOS_1.0;
            """)
        text = "\n".join(problems)
        self.assertIn("'aios_*' is not an exact symbol name", text)
        self.assertIn("AIOS_2 is not AIOS_1.<n>", text)
        self.assertIn("aios_a is listed twice", text)


class AbixmlRewrite(unittest.TestCase):
    def test_make_opaque(self):
        xml = ("<abi-instr>\n"
               "    <class-decl name='aios_buffer' size-in-bits='192' is-struct='yes' "
               "visibility='default' id='6364b384'>\n"
               "      <data-member access='public' layout-offset-in-bits='0'>\n"
               "        <var-decl name='data' type-id='ae3e8ca6' visibility='default'/>\n"
               "      </data-member>\n"
               "    </class-decl>\n"
               "    <class-decl name='aios_allocator' size-in-bits='320' is-struct='yes' "
               "visibility='default' id='1f40bb43'>\n"
               "    </class-decl>\n"
               "</abi-instr>\n")
        out = CHECK_ABI.make_opaque(xml, {"aios_buffer"})
        self.assertIn("<class-decl name='aios_buffer' is-struct='yes' visibility='default' "
                      "is-declaration-only='yes' id='6364b384'/>", out)
        self.assertNotIn("var-decl name='data'", out)
        self.assertIn("<class-decl name='aios_allocator' size-in-bits='320'", out)


class BreakingChanges(unittest.TestCase):
    """abidiff --harmless reports (libabigail 2.2 wording) of changes that
    exit with bit 4 only."""

    def whys(self, report):
        return [why for _, why in CHECK_ABI.breaking_changes(textwrap.dedent(report))]

    def test_breaks(self):
        self.assertIn("a public type shrank", self.whys("""
            underlying type 'struct aios_allocator' changed:
              type size changed from 320 to 256 (in bits)
            """))
        self.assertIn("a type was replaced by one of another size", self.whys("""
            parameter 1 of type 'int' changed:
              type name changed from 'int' to 'long int'
              type size changed from 32 to 64 (in bits)
            """))
        self.assertIn("a struct member was removed", self.whys("""
            1 data member deletion:
              'size_t size', at offset 0 (in bits)
            """))
        self.assertIn("a struct member moved", self.whys("""
            2 data member changes:
              'int a' offset changed from 64 to 0 (in bits) (by -64 bits)
            """))
        self.assertIn("an enumerator was removed or renumbered", self.whys("""
            1 enumerator change:
              't_e::T_B' from value '1' to '5'
            """))
        self.assertIn("a function's parameter list changed",
                      self.whys("parameter 2 of type 'int' was added\n"))

    def test_compatible_changes_are_left_to_review(self):
        self.assertEqual(self.whys("""
            1 Added function:
              [A] 'function int aios_new(void)'    {aios_new@@AIOS_1.1}
            underlying type 'struct aios_opts' changed:
              type size changed from 128 to 192 (in bits)
              1 data member insertion:
                'int64_t limit', at offset 128 (in bits)
            underlying type 'enum aios_protection' changed:
              type size hasn't changed
              1 enumerator insertion:
                'aios_protection::AIOS_PROTECT_EXTRA' value '3'
            """), [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    CHECK_ABI = load_check_abi(sys.argv.pop(1))
    unittest.main(verbosity=2)
