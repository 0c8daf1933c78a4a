// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gem-mfwd: static multicast routes for test and demo networks on kernels
 * without multicast routing (CONFIG_IP_MROUTE/CONFIG_IPV6_MROUTE unset),
 * where smcrouted cannot work.  Not part of GEM: it stands in for the
 * kernel's multicast forwarding, which GEM does not implement (docs: the
 * README's test section).  Same command line and routes file as smcrouted:
 *
 *   gem-mfwd [-n] [-N] [-i NAME] -f CONF [-P PIDFILE] [-u SOCK]
 *   gem-mfwd --show       routes of the instances in this network namespace
 *
 * CONF lines: `mroute from IIF source S group G to OIF...` (IPv4 or IPv6);
 * `phyint ...` and comments are accepted and ignored.  bpf/gem_mfwd.bpf.c
 * runs at tcx ingress of every IIF; the attachment is a BPF link held by
 * this process, so, as smcrouted's routes, the forwarding ends when it
 * exits (also on kill -9).  Runs in the foreground until SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gem_mfwd.skel.h"
#include "bpf/gem_mfwd.h"

#define STATE_DIR	"/run/gem-mfwd"
#define MFWD_TCX_INGRESS 46	/* BPF_TCX_INGRESS (Linux 6.6); Debian 12's headers predate it */
#define MAX_IIFS	32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gem-mfwd [-n] [-N] [-i NAME] -f CONF [-P PIDFILE] [-u SOCK]\n"
		   "       gem-mfwd --show\n"
		   "Static multicast routes (smcrouted's CONF: mroute from IIF source S group G to\n"
		   "OIF...) for kernels without multicast routing; a test and demo tool.\n");
}

static int netns_ino(unsigned long *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	*ino = (unsigned long)st.st_ino;
	return 0;
}

static int addr_parse(const char *s, __u8 out[16])
{
	struct in_addr a4;

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 4;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 6 : -1;
}

static const char *addr_str(const __u8 a[16], char *buf, size_t len)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, 12))
		return inet_ntop(AF_INET, a + 12, buf, len);
	return inet_ntop(AF_INET6, a, buf, len);
}

static int if_mac(const char *name, __u8 mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}

static int show(void)
{
	unsigned long ino;
	char pre[64], path[300], line[512];
	struct dirent *de;
	DIR *d;

	if (netns_ino(&ino))
		return 1;
	snprintf(pre, sizeof(pre), "%lu.", ino);
	d = opendir(STATE_DIR);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		FILE *f;
		long pid;

		if (strncmp(de->d_name, pre, strlen(pre)) != 0)
			continue;
		pid = strtol(de->d_name + strlen(pre), NULL, 10);
		snprintf(path, sizeof(path), STATE_DIR "/%s", de->d_name);
		if (pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH)) {
			unlink(path);		/* an instance killed with -9 */
			continue;
		}
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			fputs(line, stdout);
		if (f)
			fclose(f);
	}
	closedir(d);
	return 0;
}

struct iif {
	unsigned int ifindex;
	char name[IF_NAMESIZE];
};

/* One CONF line into the routes map (and the inbound interface into iifs). */
static int route_line(struct gem_mfwd_bpf *skel, char *line, int lineno, struct iif *iifs,
		      int *niifs, FILE *state)
{
	char *tok[4 + MFWD_MAX_OIFS + 4], *save = NULL, *t;
	char sb[INET6_ADDRSTRLEN], gb[INET6_ADDRSTRLEN], outs[256] = "";
	struct mfwd_key k = { 0 };
	struct mfwd_route r = { 0 };
	int n = 0, fam, i;

	for (t = strtok_r(line, " \t\r\n", &save); t && n < (int)(sizeof(tok) / sizeof(tok[0]));
	     t = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = t;
	if (!n || tok[0][0] == '#' || !strcmp(tok[0], "phyint"))
		return 0;
	if (n < 9 || strcmp(tok[0], "mroute") || strcmp(tok[1], "from") ||
	    strcmp(tok[3], "source") || strcmp(tok[5], "group") || strcmp(tok[7], "to")) {
		fprintf(stderr, "gem-mfwd: line %d: expected 'mroute from IIF source S group G to "
			"OIF...'\n", lineno);
		return -EINVAL;
	}
	k.ifindex = if_nametoindex(tok[2]);
	if (!k.ifindex) {
		fprintf(stderr, "gem-mfwd: line %d: %s: no such interface\n", lineno, tok[2]);
		return -ENODEV;
	}
	fam = addr_parse(tok[4], k.src);
	if (fam < 0 || addr_parse(tok[6], k.grp) != fam) {
		fprintf(stderr, "gem-mfwd: line %d: source and group must be addresses of one "
			"family\n", lineno);
		return -EINVAL;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.mfwd_routes), &k, &r))
		memset(&r, 0, sizeof(r));
	for (i = 8; i < n; i++) {
		struct mfwd_oif *o;

		if (r.n >= MFWD_MAX_OIFS) {
			fprintf(stderr, "gem-mfwd: line %d: more than %d outbound interfaces\n",
				lineno, MFWD_MAX_OIFS);
			return -E2BIG;
		}
		o = &r.oif[r.n];
		o->ifindex = if_nametoindex(tok[i]);
		if (!o->ifindex || if_mac(tok[i], o->mac)) {
			fprintf(stderr, "gem-mfwd: line %d: %s: no such interface\n", lineno,
				tok[i]);
			return -ENODEV;
		}
		r.n++;
		snprintf(outs + strlen(outs), sizeof(outs) - strlen(outs), "%s%s",
			 outs[0] ? " " : "", tok[i]);
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.mfwd_routes), &k, &r, 0)) {
		fprintf(stderr, "gem-mfwd: line %d: cannot store the route: %s\n", lineno,
			strerror(errno));
		return -errno;
	}
	/* the format of `ip mroute show`, which the tests read */
	fprintf(state, "(%s,%s)          Iif: %s         Oifs: %s  State: resolved\n",
		addr_str(k.src, sb, sizeof(sb)), addr_str(k.grp, gb, sizeof(gb)), tok[2], outs);
	for (i = 0; i < *niifs; i++)
		if (iifs[i].ifindex == k.ifindex)
			return 0;
	if (*niifs >= MAX_IIFS)
		return -E2BIG;
	iifs[*niifs].ifindex = k.ifindex;
	snprintf(iifs[*niifs].name, IF_NAMESIZE, "%s", tok[2]);
	++*niifs;
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *pidfile = NULL;
	struct gem_mfwd_bpf *skel = NULL;
	struct iif iifs[MAX_IIFS];
	int links[MAX_IIFS], niifs = 0, nlinks = 0, rc = 1, lineno = 0, opt;
	char state_path[128], tmp_path[140], line[1024];
	unsigned long ino;
	FILE *cf = NULL, *state = NULL;

	if (argc == 2 && !strcmp(argv[1], "--show"))
		return show();
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "nNi:f:P:u:")) != -1) {
		switch (opt) {
		case 'f': conf = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'n': case 'N': case 'i': case 'u': break;	/* smcrouted's; nothing to do */
		default: usage(stderr); return 2;
		}
	}
	if (!conf || optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (netns_ino(&ino)) {
		perror("gem-mfwd: /proc/self/ns/net");
		return 1;
	}
	mkdir(STATE_DIR, 0755);
	snprintf(state_path, sizeof(state_path), STATE_DIR "/%lu.%ld", ino, (long)getpid());
	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", state_path);
	cf = fopen(conf, "re");
	if (!cf) {
		fprintf(stderr, "gem-mfwd: %s: %s\n", conf, strerror(errno));
		return 1;
	}
	state = fopen(tmp_path, "we");
	skel = gem_mfwd_bpf__open_and_load();
	if (!skel || !state) {
		fprintf(stderr, "gem-mfwd: cannot load the forwarder: %s\n", strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), cf))
		if (route_line(skel, line, ++lineno, iifs, &niifs, state))
			goto out;
	for (int i = 0; i < niifs; i++) {
		links[nlinks] = bpf_link_create(bpf_program__fd(skel->progs.mfwd_ingress),
						(int)iifs[i].ifindex, MFWD_TCX_INGRESS, NULL);
		if (links[nlinks] < 0) {
			fprintf(stderr, "gem-mfwd: %s: cannot attach at tcx ingress: %s\n",
				iifs[i].name, strerror(errno));
			goto out;
		}
		nlinks++;
	}
	if (fclose(state) || rename(tmp_path, state_path)) {
		state = NULL;
		fprintf(stderr, "gem-mfwd: %s: %s\n", state_path, strerror(errno));
		goto out;
	}
	state = NULL;
	if (pidfile) {
		FILE *p = fopen(pidfile, "we");

		if (p) {
			fprintf(p, "%ld\n", (long)getpid());
			fclose(p);
		}
	}
	printf("gem-mfwd: %d route line(s) from %s, forwarding on %d interface(s)\n", lineno,
	       conf, niifs);
	fflush(stdout);
	while (!stop)
		pause();
	rc = 0;
out:
	for (int i = 0; i < nlinks; i++)
		close(links[i]);
	if (state)
		fclose(state);
	unlink(tmp_path);
	unlink(state_path);
	if (pidfile && rc == 0)
		unlink(pidfile);
	if (cf)
		fclose(cf);
	gem_mfwd_bpf__destroy(skel);
	return rc;
}
