/* Rows to PostgreSQL's binary COPY format: how call ingestion (``api.domain.calls``) stores
   calls.

   ``encode(groups, types)``: ``groups`` is a sequence of ``(rows, tail)`` pairs; each row of
   ``rows`` (a tuple or list) followed by the values of ``tail`` is one tuple of the COPY, whose
   columns are typed by the letters of ``types``:

     t  text (a str, as UTF-8)          i  int4 (an int)          q  int8 (an int)
     T  timestamptz (a datetime; naive means UTC)
     n  numeric (a Decimal, or an int of micros: at six places at most, below 10**12)

   None is NULL in any column. The result is the whole COPY payload (header, tuples, trailer) as
   bytes. A value of the wrong type or out of range raises ValueError or TypeError naming its row
   and column, and nothing is returned. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

static int grow(Buffer *buf, Py_ssize_t more) {
    if (buf->len + more <= buf->cap)
        return 0;
    Py_ssize_t cap = buf->cap ? buf->cap : 1 << 16;
    while (cap < buf->len + more)
        cap *= 2;
    char *data = PyMem_Realloc(buf->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static inline void put16(Buffer *buf, uint16_t v) {
    unsigned char *p = (unsigned char *)buf->data + buf->len;
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    buf->len += 2;
}

static inline void put32(Buffer *buf, uint32_t v) {
    unsigned char *p = (unsigned char *)buf->data + buf->len;
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    buf->len += 4;
}

static inline void put64(Buffer *buf, uint64_t v) {
    put32(buf, (uint32_t)(v >> 32));
    put32(buf, (uint32_t)v);
}

/* days from 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 from 1970-01-01 */

static int put_timestamp(Buffer *buf, PyObject *value) {
    if (!PyDateTime_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "expected a datetime");
        return -1;
    }
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                                   PyDateTime_GET_DAY(value));
    int64_t micros = ((days - PG_EPOCH_DAYS) * 86400 + PyDateTime_DATE_GET_HOUR(value) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(value) * 60 + PyDateTime_DATE_GET_SECOND(value)) *
                         1000000 +
                     PyDateTime_DATE_GET_MICROSECOND(value);
    PyObject *zone = PyDateTime_DATE_GET_TZINFO(value);
    if (zone != Py_None && zone != PyDateTime_TimeZone_UTC) {
        PyObject *offset = PyObject_CallMethod(value, "utcoffset", NULL);
        if (offset == NULL)
            return -1;
        if (PyDelta_Check(offset)) {
            micros -= ((int64_t)PyDateTime_DELTA_GET_DAYS(offset) * 86400 +
                       PyDateTime_DELTA_GET_SECONDS(offset)) *
                          1000000 +
                      PyDateTime_DELTA_GET_MICROSECONDS(offset);
        }
        Py_DECREF(offset);
    }
    put32(buf, 8);
    put64(buf, (uint64_t)micros);
    return 0;
}

static int put_integer(Buffer *buf, PyObject *value, int wide) {
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "expected an int");
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || (!wide && (v < INT32_MIN || v > INT32_MAX))) {
        PyErr_SetString(PyExc_ValueError,
                        wide ? "out of the range of int8" : "out of the range of int4");
        return -1;
    }
    if (wide) {
        put32(buf, 8);
        put64(buf, (uint64_t)v);
    } else {
        put32(buf, 4);
        put32(buf, (uint32_t)(int32_t)v);
    }
    return 0;
}

#define MICROS_LIMIT 1000000000000000000LL /* 10**18 micros: 10**12 units */

/* micros (|value| < MICROS_LIMIT) as numeric at dscale 6: base-10000 digits of the integer
   part, then the six decimals as two digits (the second padded with two zeros) */
static void put_numeric_micros(Buffer *buf, long long micros) {
    uint16_t sign = micros < 0 ? 0x4000 : 0;
    unsigned long long magnitude = (unsigned long long)micros;
    if (micros < 0)
        magnitude = 0ULL - magnitude;
    unsigned long long whole = magnitude / 1000000, fraction = magnitude % 1000000;
    uint16_t digits[8];
    int n = 0;
    while (whole) {
        digits[n++] = (uint16_t)(whole % 10000);
        whole /= 10000;
    }
    int ndigits = n + 2;
    put32(buf, (uint32_t)(8 + 2 * ndigits));
    put16(buf, (uint16_t)ndigits);
    put16(buf, (uint16_t)(int16_t)(n - 1)); /* weight */
    put16(buf, sign);
    put16(buf, 6); /* dscale */
    while (n)
        put16(buf, digits[--n]);
    put16(buf, (uint16_t)(fraction / 100));
    put16(buf, (uint16_t)((fraction % 100) * 100));
}

/* a Decimal's text (sign, digits, optional point, optional exponent) as micros */
static int decimal_micros(PyObject *value, long long *micros) {
    PyObject *text = PyObject_Str(value);
    if (text == NULL)
        return -1;
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(text, &size);
    if (s == NULL) {
        Py_DECREF(text);
        return -1;
    }
    const char *end = s + size;
    int negative = 0, places = 0, seen_point = 0, digits = 0;
    long long mantissa = 0;
    if (s < end && (*s == '-' || *s == '+'))
        negative = *s++ == '-';
    for (; s < end && ((*s >= '0' && *s <= '9') || *s == '.'); s++) {
        if (*s == '.') {
            seen_point = 1;
            continue;
        }
        if (mantissa > (LLONG_MAX - 9) / 10)
            goto bad;
        mantissa = mantissa * 10 + (*s - '0');
        digits++;
        places += seen_point;
    }
    long exponent = 0;
    if (s < end && (*s == 'E' || *s == 'e')) {
        char *stop;
        exponent = strtol(s + 1, &stop, 10);
        s = stop;
    }
    if (s != end || digits == 0)
        goto bad;
    long shift = 6 - places + exponent; /* micros = mantissa * 10**shift */
    for (; shift > 0; shift--) {
        if (mantissa > LLONG_MAX / 10)
            goto bad;
        mantissa *= 10;
    }
    for (; shift < 0; shift++) {
        if (mantissa % 10)
            goto bad; /* finer than a micro */
        mantissa /= 10;
    }
    if (mantissa >= MICROS_LIMIT)
        goto bad;
    Py_DECREF(text);
    *micros = negative ? -mantissa : mantissa;
    return 0;
bad:
    PyErr_Format(PyExc_ValueError, "%R is not a numeric of at most six places below 10**12",
                 value);
    Py_DECREF(text);
    return -1;
}

static int put_numeric(Buffer *buf, PyObject *value) {
    long long micros;
    if (PyLong_Check(value)) {
        int overflow = 0;
        micros = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (micros == -1 && PyErr_Occurred())
            return -1;
        if (overflow || micros >= MICROS_LIMIT || micros <= -MICROS_LIMIT) {
            PyErr_Format(PyExc_ValueError, "%R micros is not below 10**18", value);
            return -1;
        }
    } else if (decimal_micros(value, &micros) < 0) {
        return -1;
    }
    put_numeric_micros(buf, micros);
    return 0;
}

static int put_text(Buffer *buf, PyObject *value) {
    if (!PyUnicode_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return -1;
    }
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(value, &size);
    if (s == NULL)
        return -1;
    if (size > INT32_MAX || grow(buf, 4 + size) < 0)
        return -1;
    put32(buf, (uint32_t)size);
    memcpy(buf->data + buf->len, s, (size_t)size);
    buf->len += size;
    return 0;
}

static int put_value(Buffer *buf, char type, PyObject *value) {
    if (grow(buf, 64) < 0)
        return -1;
    if (value == Py_None) {
        put32(buf, 0xFFFFFFFFu);
        return 0;
    }
    switch (type) {
    case 't':
        return put_text(buf, value);
    case 'i':
        return put_integer(buf, value, 0);
    case 'q':
        return put_integer(buf, value, 1);
    case 'T':
        return put_timestamp(buf, value);
    case 'n':
        return put_numeric(buf, value);
    }
    PyErr_Format(PyExc_ValueError, "unknown column type %c", type);
    return -1;
}

static PyObject *encode(PyObject *self, PyObject *args) {
    PyObject *groups;
    const char *types;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "Os#", &groups, &types, &width))
        return NULL;
    PyObject *outer = PySequence_Fast(groups, "groups must be a sequence");
    if (outer == NULL)
        return NULL;
    Buffer buf = {NULL, 0, 0};
    Py_ssize_t number = 0; /* tuples written */
    if (grow(&buf, 19) < 0)
        goto fail;
    memcpy(buf.data, "PGCOPY\n\377\r\n\0", 11);
    buf.len = 11;
    put32(&buf, 0); /* flags */
    put32(&buf, 0); /* header extension */
    for (Py_ssize_t g = 0; g < PySequence_Fast_GET_SIZE(outer); g++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(outer, g);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "each group must be a (rows, tail) tuple");
            goto fail;
        }
        PyObject *rows = PySequence_Fast(PyTuple_GET_ITEM(pair, 0), "rows must be a sequence");
        if (rows == NULL)
            goto fail;
        PyObject *tail = PySequence_Fast(PyTuple_GET_ITEM(pair, 1), "tail must be a sequence");
        if (tail == NULL) {
            Py_DECREF(rows);
            goto fail;
        }
        Py_ssize_t tail_width = PySequence_Fast_GET_SIZE(tail);
        for (Py_ssize_t r = 0; r < PySequence_Fast_GET_SIZE(rows); r++, number++) {
            PyObject *row = PySequence_Fast_GET_ITEM(rows, r);
            if (!PyTuple_Check(row) && !PyList_Check(row)) {
                PyErr_Format(PyExc_TypeError, "row %zd: not a tuple", number);
                goto fail_group;
            }
            Py_ssize_t row_width = PySequence_Fast_GET_SIZE(row);
            if (row_width + tail_width != width) {
                PyErr_Format(PyExc_ValueError, "row %zd: %zd values for %zd columns", number,
                             row_width + tail_width, width);
                goto fail_group;
            }
            if (grow(&buf, 2) < 0)
                goto fail_group;
            put16(&buf, (uint16_t)width);
            PyObject **items = PySequence_Fast_ITEMS(row);
            for (Py_ssize_t c = 0; c < width; c++) {
                PyObject *value =
                    c < row_width ? items[c] : PySequence_Fast_GET_ITEM(tail, c - row_width);
                if (put_value(&buf, types[c], value) < 0) {
                    PyObject *type, *error, *trace;
                    PyErr_Fetch(&type, &error, &trace);
                    PyErr_NormalizeException(&type, &error, &trace);
                    PyErr_Format(type, "row %zd, column %zd: %S", number, c, error);
                    Py_XDECREF(type);
                    Py_XDECREF(error);
                    Py_XDECREF(trace);
                    goto fail_group;
                }
            }
        }
        Py_DECREF(rows);
        Py_DECREF(tail);
        continue;
    fail_group:
        Py_DECREF(rows);
        Py_DECREF(tail);
        goto fail;
    }
    if (grow(&buf, 2) < 0)
        goto fail;
    put16(&buf, 0xFFFF); /* trailer */
    Py_DECREF(outer);
    PyObject *result = PyBytes_FromStringAndSize(buf.data, buf.len);
    PyMem_Free(buf.data);
    return result;
fail:
    Py_DECREF(outer);
    PyMem_Free(buf.data);
    return NULL;
}

static PyMethodDef methods[] = {
    {"encode", encode, METH_VARARGS, "Rows of (rows, tail) groups as a binary COPY payload."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_copy", NULL, -1, methods};

PyMODINIT_FUNC PyInit__copy(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    return PyModule_Create(&module);
}
