/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The errno values the data plane's key-loading program returns (negated),
 * by name: vmlinux.h has no <errno.h>.  Values are Linux's (asm-generic). */
#ifndef GEM_ERRNO_H
#define GEM_ERRNO_H

#define EPERM		1
#define ENOENT		2
#define ENOMEM		12
#define EBUSY		16
#define EEXIST		17
#define EINVAL		22
#define ENOSPC		28
#define ERANGE		34
#define EOPNOTSUPP	95
#define ESTALE		116

#endif
