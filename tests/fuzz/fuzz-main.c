/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays fuzz inputs without libFuzzer: every file named on the command line, and every regular file in
 * every directory named, goes through LLVMFuzzerTestOneInput() once. This runs the corpus as an ordinary
 * test in any build (gcc, sanitizers, coverage).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_file(const char *path, uint8_t **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;

        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n;
                if (allocated - size < 4096) {
                        uint8_t *p;
                        allocated = allocated ? allocated * 2 : 65536;
                        p = realloc(buf, allocated);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        /* An exactly sized copy, so that AddressSanitizer sees reads past the end of the input. */
        *ret = malloc(MAX(size, (size_t) 1));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, buf, size);
        *ret_size = size;
        return 0;
}

static int run_file(const char *path)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_file(path, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        fprintf(stderr, "Running %s (%zu bytes)\n", path, size);
        (void) LLVMFuzzerTestOneInput(data, size);
        return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_directory(const char *dir, unsigned *count)
{
        struct dirent **entries = NULL;
        int n, r = 0;

        n = scandir(dir, &entries, NULL, compare_names);
        if (n < 0) {
                fprintf(stderr, "%s: %m\n", dir);
                return negative_errno();
        }
        for (int i = 0; i < n; i++) {
                char path[4096];
                struct stat st;

                if (entries[i]->d_name[0] != '.') {
                        snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
                        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                if (run_file(path) < 0)
                                        r = -EIO;
                                else
                                        (*count)++;
                        }
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[])
{
        unsigned count = 0;
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIRECTORY...\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        r = -EIO;
                } else if (S_ISDIR(st.st_mode)) {
                        if (run_directory(argv[i], &count) < 0)
                                r = -EIO;
                } else if (run_file(argv[i]) < 0)
                        r = -EIO;
                else
                        count++;
        }
        fprintf(stderr, "Executed %u inputs\n", count);
        if (count == 0) {
                fprintf(stderr, "No inputs found\n");
                return EXIT_FAILURE;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
