// Package hdf5 is a pure-Go reader and writer for HDF5 files, written from
// the HDF5 file format specification.
//
// Reading supports superblock versions 0-3, version 1 and 2 object headers
// (checksums verified) with continuation blocks, old-style (symbol table)
// and new-style (compact link messages, or dense storage in a fractal heap
// indexed by a v2 B-tree) groups, compact, contiguous and chunked datasets
// (v1 B-tree, single chunk, implicit, fixed array, extensible array and v2
// B-tree chunk indexes) with the deflate, shuffle, Fletcher-32 and LZF
// filters, fill values, integer and floating point types (8-64 bits,
// float16, either byte order), fixed and variable-length strings,
// h5py-style booleans and enums, and attributes stored in object headers
// or in dense storage. Compound, array, reference, opaque, time and
// bitfield data are reported with an error matching ErrUnsupported. Soft
// and external links are listed but not followed.
//
// Every structure read is bounds-checked against the file size; no input
// makes the reader panic or allocate much more than the file justifies
// (see File.SetReadLimit). Errors are *FormatError, *UnsupportedError or
// *NotFoundError, possibly wrapped with the object path.
//
// Writer produces superblock version 0 files with symbol-table groups and
// contiguous datasets, as libhdf5 does with libver="earliest": readable by
// every HDF5 library version, h5py and h5dump.
package hdf5
