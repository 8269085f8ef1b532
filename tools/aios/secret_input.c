/*
 * Reading secrets for the CLI: from a file, a file descriptor, or the
 * terminal with echo off.  Never from argv or the environment.  The bytes
 * go straight into a secure aios_buffer; stack copies are wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define SECRET_MAX 4096

/* Read at most SECRET_MAX bytes from fd into a secure buffer.  Text
 * (passphrases, PINs): one trailing "\n" or "\r\n" is dropped (files
 * written by editors end with one).  Binary (raw keys): every byte is
 * kept, since a random key ends in 0x0a once in 256. */
static int read_fd(int fd, aios_buffer **out, const char *what, int text)
{
    uint8_t tmp[SECRET_MAX + 1];
    size_t n = 0;
    int rc;

    *out = NULL;
    for (;;) {
        ssize_t r = read(fd, tmp + n, sizeof(tmp) - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "aios: reading the %s: %s\n", what, strerror(errno));
            aios_wipe(tmp, sizeof(tmp));
            return AIOS_E_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof(tmp)) {
            fprintf(stderr, "aios: the %s is longer than %d bytes\n", what, SECRET_MAX);
            aios_wipe(tmp, sizeof(tmp));
            return AIOS_E_LIMIT;
        }
    }
    if (text && n > 0 && tmp[n - 1] == '\n') {
        n--;
        if (n > 0 && tmp[n - 1] == '\r')
            n--;
    }
    rc = aios_buffer_from_bytes(out, tmp, n, AIOS_BUFFER_SECURE);
    aios_wipe(tmp, sizeof(tmp));
    return rc;
}

static int read_file(const char *path, aios_buffer **out, const char *what, int text)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;
    if (fd < 0) {
        fprintf(stderr, "aios: cannot open the %s file %s: %s\n", what, path, strerror(errno));
        *out = NULL;
        return AIOS_E_IO;
    }
    rc = read_fd(fd, out, what, text);
    close(fd);
    return rc;
}

int cli_read_secret_file(const char *path, aios_buffer **out, const char *what)
{
    return read_file(path, out, what, 1);
}

int cli_read_key_file(const char *path, aios_buffer **out, const char *what)
{
    return read_file(path, out, what, 0);
}

int cli_read_secret_fd(int fd, aios_buffer **out, const char *what)
{
    return read_fd(fd, out, what, 1);
}

int cli_read_secret_tty(const char *prompt, aios_buffer **out)
{
    struct termios old, quiet;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    int rc;

    *out = NULL;
    if (fd < 0) {
        fprintf(stderr, "aios: no terminal to ask for the passphrase: use --passphrase-file "
                        "or --passphrase-fd\n");
        return AIOS_E_STATE;
    }
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return AIOS_E_IO;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        close(fd);
        return AIOS_E_IO;
    }
    /* One line: read until newline. */
    {
        uint8_t line[SECRET_MAX];
        size_t n = 0;
        char c;
        ssize_t r;
        while (n < sizeof(line) && (r = read(fd, &c, 1)) == 1 && c != '\n')
            line[n++] = (uint8_t)c;
        rc = aios_buffer_from_bytes(out, line, n, AIOS_BUFFER_SECURE);
        aios_wipe(line, sizeof(line));
    }
    (void)tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* nothing to do: the prompt line is cosmetic */
    }
    close(fd);
    return rc;
}
