/* The text of an RFC 4122 name-based (version 5) UUID from its SHA-1 digest, as str(uuid.UUID(...))
 * writes it: every cdr_id is one (schemas/cdr.py make_cdr_id). Formatting it in Python (five
 * slices of the hex digest and an f-string) cost ~0.7 µs, as much as the hash; here it is one
 * str made from 36 bytes. from_sha1_many does the same for a buffer of digests (the simulator's
 * blocks). tests/test_asterisk_csv.py pins make_cdr_id to uuid.uuid5; tests/test_cdr_id.py pins both
 * entry points to uuid.UUID.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static const char HEX[] = "0123456789abcdef";

/* The 36-character text of the version-5 UUID in a digest's first 16 bytes. */
static PyObject *uuid5_text(const unsigned char *digest) {
    unsigned char b[16];
    memcpy(b, digest, 16);
    b[6] = (b[6] & 0x0f) | 0x50;   /* version 5 */
    b[8] = (b[8] & 0x3f) | 0x80;   /* variant 10xx */
    PyObject *text = PyUnicode_New(36, 127);
    if (text == NULL)
        return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (int i = 0, w = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[w++] = '-';
        out[w++] = HEX[b[i] >> 4];
        out[w++] = HEX[b[i] & 15];
    }
    return text;
}

PyDoc_STRVAR(from_sha1_doc,
"from_sha1(digest: bytes) -> str\n\n"
"The version-5 UUID text of a SHA-1 digest (20 bytes; its first 16 are the UUID, with the version\n"
"and RFC 4122 variant bits set).");

static PyObject *from_sha1(PyObject *module, PyObject *arg) {
    Py_buffer digest;
    if (PyObject_GetBuffer(arg, &digest, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *text = NULL;
    if (digest.len != 20)
        PyErr_SetString(PyExc_ValueError, "a SHA-1 digest is 20 bytes");
    else
        text = uuid5_text(digest.buf);
    PyBuffer_Release(&digest);
    return text;
}

PyDoc_STRVAR(from_sha1_many_doc,
"from_sha1_many(digests: bytes) -> list[str]\n\n"
"from_sha1 of each SHA-1 digest in a buffer of digests laid end to end (20 bytes each): the\n"
"simulator's cdr_ids, a block of calls at a time.");

static PyObject *from_sha1_many(PyObject *module, PyObject *arg) {
    Py_buffer digests;
    if (PyObject_GetBuffer(arg, &digests, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *texts = NULL;
    if (digests.len % 20 != 0) {
        PyErr_SetString(PyExc_ValueError, "SHA-1 digests laid end to end: a multiple of 20 bytes");
        goto done;
    }
    Py_ssize_t n = digests.len / 20;
    if ((texts = PyList_New(n)) == NULL)
        goto done;
    const unsigned char *at = digests.buf;
    for (Py_ssize_t i = 0; i < n; i++, at += 20) {
        PyObject *text = uuid5_text(at);
        if (text == NULL) {
            Py_CLEAR(texts);
            goto done;
        }
        PyList_SET_ITEM(texts, i, text);
    }
done:
    PyBuffer_Release(&digests);
    return texts;
}

static PyMethodDef methods[] = {
    {"from_sha1", from_sha1, METH_O, from_sha1_doc},
    {"from_sha1_many", from_sha1_many, METH_O, from_sha1_many_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_uuid5", "Version-5 UUID text from a SHA-1 digest, at C speed.", -1, methods,
};

PyMODINIT_FUNC PyInit__uuid5(void) {
    return PyModule_Create(&module);
}
