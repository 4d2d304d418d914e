/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/stat.h>

#include "config-file.h"
#include "config-yaml.h"
#include "errbuf.h"

static const char *const config_format_table[_CONFIG_FORMAT_MAX] = {
        [CONFIG_FORMAT_JSON] = "json",
        [CONFIG_FORMAT_YAML] = "yaml",
};

const char *config_format_to_string(ConfigFormat f)
{
        if (f < 0 || f >= _CONFIG_FORMAT_MAX)
                return NULL;
        return config_format_table[f];
}

/* Line and column (from 1) of offset in text. */
static void text_position(const char *text, size_t offset, size_t *ret_line, size_t *ret_column)
{
        size_t line = 1, column = 1;

        for (size_t i = 0; i < offset; i++)
                if (text[i] == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;
        *ret_line = line;
        *ret_column = column;
}

static int compare_keys(const void *a, const void *b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Finds a key given twice in one object, anywhere in the tree (n log n per object). */
static int json_check_duplicates(const cJSON *j, char *err, size_t errlen)
{
        const cJSON *m;
        int r;

        if (cJSON_IsObject(j)) {
                _cleanup_free_ const char **keys = NULL;
                size_t n = 0;

                cJSON_ArrayForEach(m, j)
                        n++;
                keys = malloc(MAX(n, 1u) * sizeof *keys);
                if (!keys)
                        return -ENOMEM;
                n = 0;
                cJSON_ArrayForEach(m, j)
                        keys[n++] = m->string;
                qsort(keys, n, sizeof *keys, compare_keys);
                for (size_t i = 1; i < n; i++)
                        if (streq(keys[i - 1], keys[i]))
                                return errbuf_fail(-EINVAL, err, errlen, "duplicate key \"%s\"", keys[i]);
        }
        if (cJSON_IsObject(j) || cJSON_IsArray(j))
                cJSON_ArrayForEach(m, j) {
                        r = json_check_duplicates(m, err, errlen);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int json_parse(const char *text, size_t len, cJSON **ret, char *err, size_t errlen)
{
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL;
        size_t line, column;
        cJSON *root;
        int r;

        /* cJSON wants the terminating NUL inside the length to refuse trailing garbage. */
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, true);
        if (!root) {
                /* cJSON points at or just after the first byte it could not take. */
                size_t offset = end && end >= copy && end <= copy + len ? (size_t) (end - copy) : 0;
                text_position(copy, offset, &line, &column);
                return errbuf_fail(-EINVAL, err, errlen, "line %zu, column %zu: not valid JSON", line, column);
        }
        r = json_check_duplicates(root, err, errlen);
        if (r < 0) {
                cJSON_Delete(root);
                return r;
        }
        *ret = root;
        return 0;
}

int config_tree_parse(const char *text, size_t len, ConfigFormat format, cJSON **ret, char *err, size_t errlen)
{
        const char *nul;
        size_t line, column;

        if (errlen)
                err[0] = 0;
        if (len > CONFIG_TEXT_MAX)
                return errbuf_fail(-EINVAL, err, errlen, "%zu bytes is more than the %u a configuration may have",
                                   len, (unsigned) CONFIG_TEXT_MAX);
        nul = memchr(text, 0, len);
        if (nul) {
                text_position(text, (size_t) (nul - text), &line, &column);
                return errbuf_fail(-EINVAL, err, errlen, "line %zu, column %zu: a NUL character is not allowed",
                                   line, column);
        }
        if (format == CONFIG_FORMAT_AUTO) {
                size_t blank = 0;
                while (blank < len && strchr(" \t\r\n", text[blank]))
                        blank++;
                format = blank < len && text[blank] == '{' ? CONFIG_FORMAT_JSON : CONFIG_FORMAT_YAML;
        }
        if (format == CONFIG_FORMAT_JSON)
                return json_parse(text, len, ret, err, errlen);
        return yaml_to_json(text, len, ret, err, errlen);
}

ConfigFormat config_format_from_path(const char *path)
{
        const char *dot = strrchr(path, '.');

        if (dot && !strchr(dot, '/')) {
                if (streq(dot, ".json"))
                        return CONFIG_FORMAT_JSON;
                if (streq(dot, ".yaml") || streq(dot, ".yml"))
                        return CONFIG_FORMAT_YAML;
        }
        return CONFIG_FORMAT_AUTO;
}

int config_tree_load(const char *path, cJSON **ret, char *err, size_t errlen)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        char reason[512];
        struct stat st;
        size_t len = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "%s: %m", path);
        if (S_ISDIR(st.st_mode))
                return errbuf_fail(-EISDIR, err, errlen, "%s: is a directory", path);
        if (!S_ISREG(st.st_mode))
                return errbuf_fail(-EINVAL, err, errlen, "%s: not a regular file", path);
        if ((uint64_t) st.st_size > CONFIG_TEXT_MAX)
                return errbuf_fail(-EFBIG, err, errlen, "%s: %jd bytes is more than the %u a configuration may have",
                                   path, (intmax_t) st.st_size, (unsigned) CONFIG_TEXT_MAX);
        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        /* Read to the end even if the file grew; more than the limit is refused below. */
        while (len <= (size_t) st.st_size) {
                ssize_t n = read(fd, text + len, (size_t) st.st_size + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "%s: %m", path);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > (size_t) st.st_size)
                return errbuf_fail(-EFBIG, err, errlen, "%s: the file grew while it was read", path);

        r = config_tree_parse(text, len, config_format_from_path(path), ret, reason, sizeof reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_fail(r, err, errlen, "%s: %s", path, reason);
        return 0;
}
