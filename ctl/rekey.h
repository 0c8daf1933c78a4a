/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemctl group rekey / epochs (ctl/cmd_rekey.c). */
#ifndef GEMCTL_REKEY_H
#define GEMCTL_REKEY_H

#include "gemctl.h"

#define GEMCTL_REKEY_USAGE  "gemctl group rekey GROUP [--epoch N] [--socket PATH | --config FILE]"
#define GEMCTL_EPOCHS_USAGE "gemctl [-j] group epochs [--socket PATH | --config FILE]"

int cmd_group_rekey(int argc, char **argv, const struct gemctl_opts *o);
int cmd_group_epochs(int argc, char **argv, const struct gemctl_opts *o);

#endif
