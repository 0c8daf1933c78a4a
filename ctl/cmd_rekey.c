// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemctl group rekey / group epochs: a group's GAK epochs as gemd uses them
 * (requests over gemd's control socket; docs/CONTROL.md 13.6).
 *
 *   gemctl group rekey GROUP [--epoch N] [--socket PATH | --config FILE]
 *   gemctl [-j] group epochs [--socket PATH | --config FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/gem_keys.h"
#include "gemctl.h"
#include "ctl/rekey.h"

static void usage(FILE *f, bool rekey)
{
	if (rekey)
		fprintf(f, "usage: " GEMCTL_REKEY_USAGE "\n\n"
			"Move the group to GAK epoch N (default: the newest the token holds): gemd\n"
			"rotates this node's streams of the group to fresh SEKs wrapped under epoch\n"
			"N only; the other members follow when they see it; the older epochs are\n"
			"retired everywhere afterwards.  Import epoch N on every remaining member\n"
			"first (gemctl keys import gak GROUP FILE --epoch N --socket ...).\n");
	else
		fprintf(f, "usage: " GEMCTL_EPOCHS_USAGE "\n\n"
			"Each configured group: member or not, the epoch gemd's records use, the\n"
			"epochs the token holds.\n");
}

static int run(int argc, char **argv, const struct gemctl_opts *go, bool rekey)
{
	static const struct option lo[] = {
		{ "epoch", required_argument, NULL, 'e' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct gemctl_opts o = *go;
	const char *sock = NULL, *conf = NULL, *epoch = NULL;
	char req[128];
	uint8_t grp[16];
	int c;

	optind = 0;	/* glibc: full re-initialisation (argument permutation) */
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'e': epoch = optarg; break;
		case 's': sock = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout, rekey); return 0;
		default: usage(stderr, rekey); return 2;
		}
	}
	if ((sock && conf) || (rekey ? optind + 1 != argc : optind != argc) ||
	    (!rekey && epoch)) {
		gemctl_err(&o, "usage: %s", rekey ? GEMCTL_REKEY_USAGE : GEMCTL_EPOCHS_USAGE);
		return 2;
	}
	if (!rekey)
		return gemctl_gemd_request(&o, sock, conf, "groups");
	if (gem_keys_group_parse(argv[optind], grp)) {
		gemctl_err(&o, "'%s' is not a multicast group address", argv[optind]);
		return 2;
	}
	if (epoch) {
		char *end;
		unsigned long long e;

		errno = 0;
		e = strtoull(epoch, &end, 10);
		if (errno || *end || !*epoch || *epoch == '-' || e > UINT32_MAX) {
			gemctl_err(&o, "--epoch wants a number 0..4294967295");
			return 2;
		}
	}
	snprintf(req, sizeof(req), "group-rekey %s%s%s", argv[optind], epoch ? " " : "",
		 epoch ? epoch : "");
	return gemctl_gemd_request(&o, sock, conf, req);
}

int cmd_group_rekey(int argc, char **argv, const struct gemctl_opts *o)
{
	return run(argc, argv, o, true);
}

int cmd_group_epochs(int argc, char **argv, const struct gemctl_opts *o)
{
	return run(argc, argv, o, false);
}
