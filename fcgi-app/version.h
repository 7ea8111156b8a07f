/* version: the worker's version, shown by --version and in khalid_build_info. */
#ifndef KT_VERSION_H
#define KT_VERSION_H

#define KT_VERSION "1.1.0"

#endif
