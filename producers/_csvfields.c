/* Strict CSV fields of one line, at C speed: the split every CSV format's parse starts with.
 *
 * Python's csv reader costs ~80 instructions a character and makes a str of every field; a CUCM
 * line has 133 quoted columns of which a parser reads 14, so the reader alone took most of the
 * 10 µs a CDR may cost (docs/benchmarks.md). These functions give, for a line the strict excel
 * reader (csv.register_dialect(..., "excel", strict=True)) reads without error, exactly its
 * fields, and None for every other line: a quote it would refuse, a quoted field left open (it
 * wants the next line), CR, LF or NUL, an empty line, a line longer than csv.field_size_limit().
 * The caller then asks the reader itself, so its rows and its error messages stay the only truth
 * (producers/parsing.py; tests/test_csv_fields.py holds the two equal on fuzzed lines).
 *
 * The delimiter and quote character may be other ASCII characters (Asterisk cdr_custom's
 * separator_character and quote_character); a doubled quote character stands for one.
 * Input is the line's bytes; each field is decoded from UTF-8 with "replace", as a decoded line
 * split by the reader would be: ASCII separators are never inside a multi-byte sequence.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define FIELD_SIZE_LIMIT 131072   /* csv.field_size_limit()'s default; the tests pin it */

typedef struct {
    Py_ssize_t start, end;   /* the field's text, quotes excluded, in the line */
    int doubled;             /* a quoted field with "" in it, to be unescaped */
} span;

/* One buffer of spans, grown to the longest line's field bound: the GIL is held from split to the
 * last str made. */
static span *spans;
static Py_ssize_t spans_cap;

/* The number of fields of s[0..n) as the strict excel reader splits it, their spans in `spans`;
 * -1 where the reader is needed (see the file's comment), -2 out of memory. The reader's states
 * map to this walk: START_FIELD is the loop's head, IN_FIELD the scan for the next delimiter (a
 * quote there is a character), IN_QUOTED_FIELD the memchr for the next quote, and after a quote
 * in a quoted field only another quote, a delimiter or the end of the line may follow (strict).
 * Unquoted fields are scanned byte by byte: they are mostly empty or short, where a memchr call
 * per field costs more than it saves (Ribbon writes 190 fields in 330 bytes). */
static Py_ssize_t split(const char *s, Py_ssize_t n, char delimiter, char quotechar) {
    Py_ssize_t count = 0, pos = 0;
    if (n == 0 || n > FIELD_SIZE_LIMIT || memchr(s, '\n', n) || memchr(s, '\r', n) || memchr(s, '\0', n))
        return -1;
    if (spans_cap < n + 1) {           /* a field per delimiter, plus one */
        span *grown = PyMem_Realloc(spans, (n + 1) * sizeof(span));
        if (grown == NULL)
            return -2;
        spans = grown;
        spans_cap = n + 1;
    }
    for (;;) {
        span *f = &spans[count++];
        if (pos < n && s[pos] == quotechar) {
            Py_ssize_t q = pos + 1;
            f->start = q;
            f->doubled = 0;
            for (;;) {
                const char *quote = memchr(s + q, quotechar, n - q);
                if (quote == NULL)
                    return -1;                 /* open quote: the reader wants the next line */
                q = quote - s;
                if (q + 1 < n && s[q + 1] == quotechar) {
                    f->doubled = 1;
                    q += 2;
                    continue;
                }
                break;
            }
            f->end = q;
            if (q + 1 == n)
                return count;
            if (s[q + 1] != delimiter)
                return -1;                     /* strict: "',' expected after '\"'" */
            pos = q + 2;
        } else {
            Py_ssize_t end = pos;
            while (end < n && s[end] != delimiter)
                end++;
            f->start = pos;
            f->end = end;
            f->doubled = 0;
            if (end == n)
                return count;
            pos = end + 1;
        }
    }
}

static PyObject *field_str(const char *s, span f, char quotechar) {
    if (!f.doubled)
        return PyUnicode_DecodeUTF8(s + f.start, f.end - f.start, "replace");
    char *text = PyMem_Malloc(f.end - f.start);
    if (text == NULL)
        return PyErr_NoMemory();
    Py_ssize_t w = 0;
    for (Py_ssize_t i = f.start; i < f.end; i++) {
        text[w++] = s[i];
        if (s[i] == quotechar)
            i++;                               /* "" stands for one quote */
    }
    PyObject *value = PyUnicode_DecodeUTF8(text, w, "replace");
    PyMem_Free(text);
    return value;
}

/* The delimiter and quote character from optional 1-character str arguments (default ',' '"');
 * 0 with a TypeError set if they are not, and '\0' for the delimiter when they are characters the
 * split does not handle (non-ASCII, a line ending, NUL, or both the same): the reader decides. */
static int separators(PyObject *const *args, Py_ssize_t nargs, char *delimiter, char *quotechar) {
    char *out[2] = {delimiter, quotechar};
    *delimiter = ',';
    *quotechar = '"';
    for (Py_ssize_t i = 0; i < nargs && i < 2; i++) {
        if (!PyUnicode_Check(args[i]) || PyUnicode_GET_LENGTH(args[i]) != 1) {
            PyErr_SetString(PyExc_TypeError, "delimiter and quotechar must be 1-character strings");
            return 0;
        }
        Py_UCS4 c = PyUnicode_READ_CHAR(args[i], 0);
        *out[i] = (c < 128 && c != '\r' && c != '\n') ? (char)c : '\0';
    }
    if (*delimiter == *quotechar || *quotechar == '\0')
        *delimiter = '\0';
    return 1;
}

/* The line `arg` split with the nseps separator arguments at seps: its field count, with *line
 * held (the caller releases it); -1 where the reader must read it, -2 with an exception set (in
 * both, nothing is held). */
static Py_ssize_t split_arg(PyObject *arg, PyObject *const *seps, Py_ssize_t nseps, Py_buffer *line, char *quotechar) {
    char delimiter;
    if (!separators(seps, nseps, &delimiter, quotechar))
        return -2;
    if (delimiter == '\0')
        return -1;
    if (PyObject_GetBuffer(arg, line, PyBUF_SIMPLE) < 0)
        return -2;
    Py_ssize_t count = split(line->buf, line->len, delimiter, *quotechar);
    if (count < 0) {
        PyBuffer_Release(line);
        if (count == -2)
            PyErr_NoMemory();
    }
    return count;
}

PyDoc_STRVAR(fields_doc,
"fields(line: bytes, delimiter=',', quotechar='\"') -> list[str] | None\n\n"
"The strict csv reader's row of one line without its ending (excel dialect with this delimiter\n"
"and quote character), or None where the reader itself must read the line (it refuses it, wants\n"
"more lines, or the line is unusual).");

static PyObject *csv_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer line;
    char quotechar;
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "fields(line, delimiter=',', quotechar='\"')");
        return NULL;
    }
    Py_ssize_t count = split_arg(args[0], args + 1, nargs - 1, &line, &quotechar);
    if (count == -2)
        return NULL;
    if (count == -1)
        Py_RETURN_NONE;
    PyObject *row = PyList_New(count);
    for (Py_ssize_t i = 0; row != NULL && i < count; i++) {
        PyObject *value = field_str(line.buf, spans[i], quotechar);
        if (value == NULL)
            Py_CLEAR(row);
        else
            PyList_SET_ITEM(row, i, value);
    }
    PyBuffer_Release(&line);
    return row;
}

PyDoc_STRVAR(pick_doc,
"pick(line: bytes, columns: tuple[int, ...], delimiter=',', quotechar='\"')\n"
"    -> tuple[int, tuple[str, ...]] | None\n\n"
"(number of fields, the fields at `columns`) of the row fields(line, ...) gives, a column past\n"
"the row's last as \"\"; None where fields(line, ...) is None. Only the columns asked for become str.");

static PyObject *csv_pick(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer line;
    char quotechar;
    if (nargs < 2 || nargs > 4 || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "pick(line, columns: tuple[int, ...], delimiter=',', quotechar='\"')");
        return NULL;
    }
    PyObject *columns = args[1];
    Py_ssize_t wanted = PyTuple_GET_SIZE(columns);
    Py_ssize_t count = split_arg(args[0], args + 2, nargs - 2, &line, &quotechar);
    if (count == -2)
        return NULL;
    if (count == -1)
        Py_RETURN_NONE;
    PyObject *picked = PyTuple_New(wanted);
    for (Py_ssize_t i = 0; picked != NULL && i < wanted; i++) {
        Py_ssize_t column = PyLong_AsSsize_t(PyTuple_GET_ITEM(columns, i));
        PyObject *value = NULL;
        if (column < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "columns must be non-negative");
        } else {
            value = column < count ? field_str(line.buf, spans[column], quotechar) : PyUnicode_New(0, 0);
        }
        if (value == NULL)
            Py_CLEAR(picked);
        else
            PyTuple_SET_ITEM(picked, i, value);
    }
    PyBuffer_Release(&line);
    if (picked == NULL)
        return NULL;
    return Py_BuildValue("(nN)", count, picked);
}

static PyMethodDef methods[] = {
    {"fields", (PyCFunction)(void (*)(void))csv_fields, METH_FASTCALL, fields_doc},
    {"pick", (PyCFunction)(void (*)(void))csv_pick, METH_FASTCALL, pick_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_csvfields",
    "Strict CSV fields of one line at C speed; None where Python's csv reader must decide.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__csvfields(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "FIELD_SIZE_LIMIT", FIELD_SIZE_LIMIT) < 0)
        Py_CLEAR(m);
    return m;
}
