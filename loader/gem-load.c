// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gem-load: attach GEM's data plane to a node's WAN interfaces.
 *
 *   gem-load attach DEV [--xdp-mode native|generic] [--role wan|lan]
 *   gem-load detach DEV
 *   gem-load status [-j]
 *   gem-load unload            (remove the pins once nothing is attached)
 *
 * The programs and maps are loaded once per node and pinned under the pin
 * directory (default /sys/fs/bpf/gem); every further interface reuses the
 * pinned programs, so one set of keys serves all interfaces.  The XDP
 * program and a clsact egress filter (handle GEM_TC_HANDLE, priority
 * GEM_TC_PRIO) stay attached through netlink after gem-load exits.
 *
 * Roles: a WAN interface (default) gets both programs; a LAN interface
 * (--role lan) only gem_lan_egress on clsact egress, which keeps the sealed
 * packets of groups this node holds no key for (transit groups) off the LAN.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gem.skel.h"
#include "gem_common.h"
#include "gem_dp.h"
#include "gem_json.h"
#include "gem_nl.h"
#include "gem_pin.h"
#include "gem_version.h"

#define GEM_TC_HANDLE	0x47
#define GEM_TC_PRIO	0x4745

static bool verbose, json, pretty;
static const char *pin_dir = GEM_PIN_DIR_DEFAULT;


static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (json)
		gem_json_error(buf, pretty);
	else
		fprintf(stderr, "gem-load: %s\n", buf);
}

/* A note beside the result: on stdout, or on stderr with -j (stdout holds the
 * JSON answer and nothing else). */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gem-load: ", json ? stderr : stdout);
	vfprintf(json ? stderr : stdout, fmt, ap);
	fputc('\n', json ? stderr : stdout);
	va_end(ap);
}

static int put_json(json_object *o)
{
	return gem_json_print(o, pretty) ? 1 : 0;
}

/* libbpf's own messages (verifier log included) with -v only: without it,
 * gem-load's one-line errors say what failed. */
static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	(void)lvl;
	return verbose ? vfprintf(stderr, fmt, ap) : 0;
}

/* A synopsis once: in --help and in the usage error alike. */
#define ATTACH_USAGE "attach DEV [--xdp-mode native|generic] [--role wan|lan]"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gem-load [-j|-p] [-v] [--pin-dir DIR] COMMAND\n"
		"\n"
		"  " ATTACH_USAGE "\n"
		"                  load GEM once per node (maps and programs pinned in DIR),\n"
		"                  attach XDP ingress and TC egress to DEV; idempotent.\n"
		"                  --role lan (a LAN-facing DEV): TC egress only, dropping the\n"
		"                  packets of transit groups (no key held here) so no sealed\n"
		"                  packet reaches the LAN; default --role wan\n"
		"  detach DEV      remove GEM's programs from DEV (and the clsact qdisc GEM\n"
		"                  created, unless other filters use it)\n"
		"  status [-j]     attached interfaces, role, XDP mode, program ids, suites\n"
		"  unload          remove the pinned maps and programs (keys are lost) and the\n"
		"                  pin dir (unless it is a mount point); refused while an\n"
		"                  interface is attached\n"
		"\n"
		"options:\n"
		"  --pin-dir DIR   bpffs directory (default " GEM_PIN_DIR_DEFAULT ")\n"
		"  -j, --json      JSON on stdout and nothing else (errors: {\"error\": ...})\n"
		"  -p, --pretty    JSON, indented\n"
		"  -v, --verbose   libbpf and verifier messages\n"
		"  -V, --version   version and map layout of this gem-load\n"
		"\n"
		"Pins of another GEM version: a warning when the map layout is the same,\n"
		"refused (attach) when it differs (gem-load(8), VERSIONS).\n");
}

static int path_of(char *buf, size_t n, const char *name)
{
	return snprintf(buf, n, "%s/%s", pin_dir, name) >= (int)n ? -ENAMETOOLONG : 0;
}

static int check_root_and_dir(int create)
{
	int r;

	if (geteuid() != 0) {
		err("must run as root (BPF and netlink need CAP_BPF/CAP_NET_ADMIN)");
		return -EPERM;
	}
	r = gem_pin_dir_check(pin_dir, create);
	if (r == -EMEDIUMTYPE) {
		err("pin dir %s is not on a bpffs (mount one: mount -t bpf bpf /sys/fs/bpf)", pin_dir);
		return r;
	}
	if (r == -ENOENT && !create) {
		err("GEM is not loaded: nothing pinned in %s", pin_dir);
		return r;
	}
	if (r) {
		err("pin dir %s: %s", pin_dir, strerror(-r));
		return r;
	}
	return 0;
}

/* One gem-load at a time per pin dir. */
static int lock_dir(void)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int prog_id(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return (int)info.id;
}

static void prog_name_by_id(__u32 id, char *name, size_t n)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(name, n, "?");
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(name, n, "%s", info.name);
	close(fd);
}

static int have_crypto_kfuncs(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int ok;

	if (!btf)
		return 0;
	ok = btf__find_by_name_kind(btf, "bpf_crypto_ctx_create", BTF_KIND_FUNC) > 0 &&
	     btf__find_by_name_kind(btf, "bpf_crypto_encrypt", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return ok;
}

/* Pin the loaded programs under the names gem_pin_progs gives them. */
static int pin_progs(struct gem_bpf *skel)
{
#define SKEL_PROG(f, opened) skel->progs.gem_##f,
	struct bpf_program *progs[] = { GEM_PIN_PROGS(SKEL_PROG) };
#undef SKEL_PROG
	char path[PATH_MAX];
	int r;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		path_of(path, sizeof(path), gem_pin_progs[i]);
		r = bpf_program__pin(progs[i], path);
		if (r) {
			err("cannot pin %s: %s", path, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Load and pin the programs and maps, or get the pinned programs.
 * fds[0] egress, fds[1] ingress, fds[2] LAN egress. */
static int get_progs(int fds[3])
{
	char path[PATH_MAX];
	struct gem_bpf *skel = NULL;
	char msg[320];
	int r;

	/* another GEM's maps: a warning for the same layout, else refused
	 * (the structs written into them would be misread) */
	r = gem_stamp_check(pin_dir, NULL, msg, sizeof(msg));
	if (r == -ESTALE) {
		err("%s", msg);
		return r;
	}
	if (r == 1)
		fprintf(stderr, "gem-load: warning: %s\n", msg);
	if (!path_of(path, sizeof(path), "prog_ingress") && access(path, F_OK) == 0) {
		fds[1] = bpf_obj_get(path);
		path_of(path, sizeof(path), "prog_egress");
		fds[0] = bpf_obj_get(path);
		path_of(path, sizeof(path), "prog_lan_egress");
		fds[2] = bpf_obj_get(path);
		if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
			err("pinned programs in %s unusable: %s (run: gem-load unload)",
			    pin_dir, strerror(errno));
			return -EIO;
		}
		return 0;
	}
	/* groups without their filter (gem_common.h) would pass in clear:
	 * libbpf would create an empty gem_gfilter next to a full gem_groups */
	if (!path_of(path, sizeof(path), "gem_groups") && access(path, F_OK) == 0 &&
	    !path_of(path, sizeof(path), "gem_gfilter") && access(path, F_OK) != 0) {
		err("%s has gem_groups pinned without gem_gfilter (run: gem-load unload)",
		    pin_dir);
		return -ESTALE;
	}
	/* the object loads without them (weak kfuncs): suite 4 only */
	if (!have_crypto_kfuncs())
		fprintf(stderr, "gem-load: this kernel lacks the BPF crypto kfuncs (Linux >= 6.10 "
			"with CONFIG_CRYPTO_ECB/CBC): only suite chacha20-poly1305 is available\n");
	skel = gem_bpf__open();
	if (!skel) {
		err("cannot open the BPF object: %s", strerror(errno));
		return -EIO;
	}
	for (const char *const *name = gem_pin_maps; *name; name++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, *name);

		if (!m || path_of(path, sizeof(path), *name) || bpf_map__set_pin_path(m, path)) {
			err("cannot set pin path for %s", *name);
			r = -EINVAL;
			goto out;
		}
	}
	r = gem_bpf__load(skel);
	if (r) {
		if (r == -EINVAL || r == -ENOENT)
			err("loading the data plane failed: pinned maps in %s may be from another "
			    "GEM version (gem-load unload, then attach again); -v shows why", pin_dir);
		else
			err("loading the data plane failed (%s); -v shows the verifier log "
			    "(suite 4 needs bpf_iter_num and bpf_obj_new: Linux >= 6.4)",
			    strerror(-r));
		goto out;
	}
	r = gem_stamp_write(bpf_map__fd(skel->maps.gem_stamp));
	if (r) {
		err("cannot write the version stamp: %s", strerror(-r));
		goto out;
	}
	r = pin_progs(skel);
	if (r)
		goto out;
	fds[0] = dup(bpf_program__fd(skel->progs.gem_egress));
	fds[1] = dup(bpf_program__fd(skel->progs.gem_ingress));
	fds[2] = dup(bpf_program__fd(skel->progs.gem_lan_egress));
	r = 0;
out:
	gem_bpf__destroy(skel);	/* pinned objects stay */
	return r;
}

static int ifaces_fd(void)
{
	char path[PATH_MAX];

	if (path_of(path, sizeof(path), "gem_ifaces"))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

/* The clsact qdisc GEM created goes only when no filter is left on it:
 * deleting it would take other tools' ingress/egress filters along. */
static int drop_clsact_if_empty(const char *dev, struct bpf_tc_hook *hook)
{
	int in = gem_nl_tc_filters((unsigned)hook->ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	int eg = gem_nl_tc_filters((unsigned)hook->ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
	int r;

	if (in < 0 || eg < 0) {
		err("%s: cannot list the clsact filters (%s); the qdisc is kept", dev,
		    strerror(-(in < 0 ? in : eg)));
		return 0;
	}
	if (in || eg) {
		note("%s: clsact qdisc kept: other filters use it", dev);
		return 0;
	}
	hook->attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	r = bpf_tc_hook_destroy(hook);
	if (r && r != -ENOENT) {
		err("%s: removing GEM's clsact qdisc failed: %s", dev, strerror(-r));
		return r;
	}
	return 0;
}

/* dev in this network namespace, asked over netlink (not /sys/class/net:
 * under `nsenter --net` sysfs still shows the namespace it was mounted in). */
static int link_of(const char *dev, struct gem_nl_link *link)
{
	int r = gem_nl_link_get(dev, 0, link);

	if (r == -ENODEV)
		err("no such device '%s' in this network namespace", dev);
	else if (r)
		err("%s: cannot ask the kernel about the link: %s", dev, strerror(-r));
	return r;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "xdp-mode", required_argument, NULL, 'm' },
		{ "role", required_argument, NULL, 'r' }, { 0 } };
	int fds[3] = { -1, -1, -1 }, lockfd = -1, ifd = -1, c, r, mode = GEM_XDP_NATIVE;
	int lan = 0, mode_set = 0, had, tc_fd;
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = GEM_TC_HANDLE, .priority = GEM_TC_PRIO);
	struct gem_iface rec = { 0 };
	char name[BPF_OBJ_NAME_LEN];
	struct gem_nl_link link;
	unsigned ifindex;
	const char *dev;

	optind = 0;	/* re-initialise getopt: main parsed with "+" */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'r') {
			if (!strcmp(optarg, "lan")) {
				lan = 1;
			} else if (!strcmp(optarg, "wan")) {
				lan = 0;
			} else {
				err("unknown role '%s' (wan or lan)", optarg);
				return 2;
			}
			continue;
		}
		if (c != 'm') {
			err("usage: gem-load " ATTACH_USAGE);
			return 2;
		}
		mode_set = 1;
		if (!strcmp(optarg, "native"))
			mode = GEM_XDP_NATIVE;
		else if (!strcmp(optarg, "generic"))
			mode = GEM_XDP_GENERIC;
		else {
			err("unknown XDP mode '%s' (native or generic)", optarg);
			return 2;
		}
	}
	if (optind != argc - 1) {
		err("usage: gem-load " ATTACH_USAGE);
		return 2;
	}
	if (lan && mode_set) {
		err("--xdp-mode is for --role wan: a LAN interface gets no XDP program");
		return 2;
	}
	dev = argv[optind];
	if (check_root_and_dir(1))
		return 1;
	if (link_of(dev, &link))
		return 1;
	ifindex = link.ifindex;
	if (link.type != ARPHRD_ETHER) {
		err("%s is not an Ethernet device (link type %u): GEM parses Ethernet frames", dev,
		    link.type);
		return 1;
	}
	lockfd = lock_dir();
	if (lockfd < 0) {
		err("cannot lock %s: %s", pin_dir, strerror(-lockfd));
		return 1;
	}
	r = get_progs(fds);
	if (r)
		goto out;
	ifd = ifaces_fd();
	if (ifd < 0) {
		r = -errno;
		err("cannot open %s/gem_ifaces: %s", pin_dir, strerror(errno));
		goto out;
	}
	had = bpf_map_lookup_elem(ifd, &ifindex, &rec) == 0;
	if (!had)
		memset(&rec, 0, sizeof(rec));
	if (had && !!(rec.flags & GEM_IF_F_LAN) != lan) {
		err("%s: GEM is attached with role %s already (detach first to change it)", dev,
		    rec.flags & GEM_IF_F_LAN ? "lan" : "wan");
		r = -EEXIST;
		goto out;
	}
	snprintf(rec.name, sizeof(rec.name), "%s", dev);
	tc_fd = lan ? fds[2] : fds[0];
	if (lan) {
		rec.flags |= GEM_IF_F_LAN;
		rec.xdp_mode = 0;
		rec.xdp_prog_id = 0;
		goto tc;
	}

	/* XDP: ours already (same pinned program) is fine, anything else is not */
	r = bpf_xdp_query(ifindex, 0, &xq);
	if (r) {
		err("%s: cannot query XDP: %s", dev, strerror(-r));
		goto out;
	}
	if (xq.prog_id && xq.prog_id == (__u32)prog_id(fds[1])) {
		int cur = xq.attach_mode == XDP_ATTACHED_SKB ? GEM_XDP_GENERIC : GEM_XDP_NATIVE;

		if (cur != mode) {
			err("%s: GEM is attached in %s mode already (detach first to change it)",
			    dev, cur == GEM_XDP_GENERIC ? "generic" : "native");
			r = -EEXIST;
			goto out;
		}
	} else if (xq.prog_id) {
		prog_name_by_id(xq.prog_id, name, sizeof(name));
		err("%s: XDP program '%s' (id %u) is already attached; GEM will not replace it",
		    dev, name, xq.prog_id);
		r = -EBUSY;
		goto out;
	} else {
		r = bpf_xdp_attach((int)ifindex, fds[1], XDP_FLAGS_UPDATE_IF_NOEXIST |
				   (mode == GEM_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE),
				   NULL);
		if (r) {
			if (r == -EOPNOTSUPP && mode == GEM_XDP_NATIVE)
				err("%s: the driver has no native XDP (use --xdp-mode generic)", dev);
			else
				err("%s: attaching XDP failed: %s", dev, strerror(-r));
			goto out;
		}
	}
	rec.xdp_mode = mode;
	rec.xdp_prog_id = prog_id(fds[1]);

tc:
	/* TC egress on clsact (role lan: the LAN egress program) */
	hook.ifindex = (int)ifindex;
	r = bpf_tc_hook_create(&hook);
	if (r == 0)
		rec.flags |= GEM_IF_F_OWN_CLSACT;
	else if (r != -EEXIST) {
		err("%s: cannot create the clsact qdisc: %s", dev, strerror(-r));
		goto undo_xdp;
	}
	r = bpf_tc_query(&hook, &tco);
	if (r == 0) {
		if (tco.prog_id != (__u32)prog_id(tc_fd)) {
			prog_name_by_id(tco.prog_id, name, sizeof(name));
			err("%s: a TC filter with GEM's handle/priority runs '%s' (id %u); not replacing it",
			    dev, name, tco.prog_id);
			r = -EBUSY;
			goto undo_xdp;
		}
	} else {
		LIBBPF_OPTS(bpf_tc_opts, att, .handle = GEM_TC_HANDLE,
			    .priority = GEM_TC_PRIO, .prog_fd = tc_fd);

		r = bpf_tc_attach(&hook, &att);
		if (r) {
			err("%s: attaching TC egress failed: %s", dev, strerror(-r));
			goto undo_xdp;
		}
	}
	rec.tc_prog_id = prog_id(tc_fd);
	if (bpf_map_update_elem(ifd, &ifindex, &rec, 0)) {
		r = -errno;
		err("%s: cannot record the attachment: %s", dev, strerror(errno));
		goto out;
	}
	if (json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "interface", dev);
		gem_json_bool(j, "attached", true);
		gem_json_str(j, "role", lan ? "lan" : "wan");
		gem_json_str(j, "xdp_mode", lan ? NULL :
			     mode == GEM_XDP_GENERIC ? "generic" : "native");
		gem_json_u64(j, "xdp_prog_id", rec.xdp_prog_id);
		gem_json_u64(j, "tc_prog_id", rec.tc_prog_id);
		gem_json_str(j, "pin_dir", pin_dir);
		r = put_json(j) ? -EIO : 0;
		goto out;
	} else if (lan)
		printf("gem-load: %s: attached, role lan (LAN egress prog %u: transit groups' "
		       "packets dropped; maps in %s)\n", dev, rec.tc_prog_id, pin_dir);
	else
		printf("gem-load: %s: attached (xdp %s, ingress prog %u, egress prog %u, maps in %s)\n",
		       dev, mode == GEM_XDP_GENERIC ? "generic" : "native", rec.xdp_prog_id,
		       rec.tc_prog_id, pin_dir);
	r = 0;
	goto out;
undo_xdp:
	/* fail as a whole: no half-attached interface */
	if (!lan && !(xq.prog_id))
		bpf_xdp_detach((int)ifindex, mode == GEM_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
								      : XDP_FLAGS_DRV_MODE, NULL);
	if (rec.flags & GEM_IF_F_OWN_CLSACT)
		drop_clsact_if_empty(dev, &hook);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ifd >= 0)
		close(ifd);
	if (lockfd >= 0)
		close(lockfd);
	return r ? 1 : 0;
}

static int put_detached(const char *dev, bool was)
{
	json_object *j = json_object_new_object();

	gem_json_str(j, "interface", dev);
	gem_json_bool(j, "attached", false);
	gem_json_bool(j, "was_attached", was);
	return put_json(j);
}

static int cmd_detach(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = GEM_TC_HANDLE, .priority = GEM_TC_PRIO);
	struct gem_iface rec;
	struct gem_nl_link link;
	int ifd, lockfd, r = 0, had;
	unsigned ifindex;
	const char *dev;

	if (argc != 2) {
		err("usage: gem-load detach DEV");
		return 2;
	}
	dev = argv[1];
	if (check_root_and_dir(0))
		return 1;
	if (link_of(dev, &link))
		return 1;
	ifindex = link.ifindex;
	lockfd = lock_dir();
	if (lockfd < 0) {
		err("cannot lock %s: %s", pin_dir, strerror(-lockfd));
		return 1;
	}
	ifd = ifaces_fd();
	if (ifd < 0) {
		err("cannot open %s/gem_ifaces: %s", pin_dir, strerror(errno));
		close(lockfd);
		return 1;
	}
	had = bpf_map_lookup_elem(ifd, &ifindex, &rec) == 0;
	if (!had) {
		if (json)
			put_detached(dev, false);
		else
			printf("gem-load: %s: GEM is not attached (nothing to do)\n", dev);
		goto out;
	}
	if (rec.xdp_prog_id && bpf_xdp_query(ifindex, 0, &xq) == 0 && xq.prog_id &&
	    xq.prog_id == rec.xdp_prog_id) {
		r = bpf_xdp_detach((int)ifindex, xq.attach_mode == XDP_ATTACHED_SKB ?
				   XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE, NULL);
		if (r)
			err("%s: removing XDP failed: %s", dev, strerror(-r));
	}
	hook.ifindex = (int)ifindex;
	if (bpf_tc_query(&hook, &tco) == 0 && tco.prog_id == rec.tc_prog_id) {
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = GEM_TC_HANDLE, .priority = GEM_TC_PRIO);
		int e = bpf_tc_detach(&hook, &d);

		if (e) {
			err("%s: removing the TC filter failed: %s", dev, strerror(-e));
			r = e;
		}
	}
	if (!r && (rec.flags & GEM_IF_F_OWN_CLSACT))
		r = drop_clsact_if_empty(dev, &hook);
	if (!r) {
		bpf_map_delete_elem(ifd, &ifindex);
		if (json)
			r = put_detached(dev, true) ? -EIO : 0;
		else
			printf("gem-load: %s: detached\n", dev);
	}
out:
	close(ifd);
	close(lockfd);
	return r ? 1 : 0;
}

/* The suites the loaded data plane offers on this kernel (gem_ctl). */
/* The suites the loaded object offers on this kernel: "suites" of top
 * (-j), else a line. */
static void suites_out(json_object *top)
{
	char path[PATH_MAX];
	int fd = -1, m = -ENOENT;
	json_object *arr = json ? json_object_new_array() : NULL;

	if (!path_of(path, sizeof(path), "prog_ctl"))
		fd = bpf_obj_get(path);
	if (fd >= 0)
		m = gem_dp_suites(fd);
	if (fd >= 0)
		close(fd);
	if (!json)
		printf("suites:");
	for (unsigned s = 1; m > 0 && s <= GEM_SUITE_MAX; s++) {
		if (!(m & (1 << s)))
			continue;
		if (json)
			{
			json_object *v = json_object_new_string(gem_suite_name(s));

			if (arr && v)
				json_object_array_add(arr, v);
			else
				json_object_put(v);
		}
		else
			printf(" %s", gem_suite_name(s));
	}
	if (json) {
		if (top && arr)
			json_object_object_add(top, "suites", arr);
		else
			json_object_put(arr);
		return;
	}
	if (m < 0)
		printf(" unknown (%s)\n", strerror(-m));
	else
		printf("%s\n", m == GEM_SUITES_NO_KFUNCS ? " (no BPF crypto kfuncs in this kernel)" : "");
}

static int cmd_status(void)
{
	__u32 key, next, *prev = NULL;
	struct gem_nl_link link;
	struct gem_stamp st;
	struct gem_iface rec;
	json_object *top = NULL, *arr = NULL;
	int ifd, n = 0, sr;
	char msg[320];

	if (gem_pin_dir_check(pin_dir, 0) || (ifd = ifaces_fd()) < 0) {
		if (json) {
			top = json_object_new_object();
			gem_json_bool(top, "loaded", false);
			gem_json_str(top, "pin_dir", pin_dir);
			if (top) {
				json_object_object_add(top, "interfaces", json_object_new_array());
				json_object_object_add(top, "suites", json_object_new_array());
			}
			return put_json(top);
		}
		printf("GEM is not loaded (nothing pinned in %s)\n", pin_dir);
		return 0;
	}
	sr = gem_stamp_check(pin_dir, &st, msg, sizeof(msg));
	if (sr && !json)
		printf("%s: %s\n", sr < 0 ? "error" : "warning", msg);
	if (json) {
		top = json_object_new_object();
		arr = json_object_new_array();
		gem_json_bool(top, "loaded", true);
		gem_json_str(top, "pin_dir", pin_dir);
		gem_json_str(top, "version", gem_build_version);
		gem_json_str(top, "pinned_version", sr >= 0 ? st.version : NULL);
		gem_json_bool(top, "layout_matches", sr >= 0);
		if (top && arr) {
			json_object_object_add(top, "interfaces", arr);
		} else {
			json_object_put(arr);
			arr = NULL;
		}
	} else
		printf("%-16s %-8s %-5s %-8s %-10s %-10s %s\n", "interface", "ifindex", "role", "xdp",
		       "ingress", "egress", "state");
	while (bpf_map_get_next_key(ifd, prev, &next) == 0) {
		LIBBPF_OPTS(bpf_xdp_query_opts, xq);
		LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tco, .handle = GEM_TC_HANDLE, .priority = GEM_TC_PRIO);
		const char *state = "ok", *xdp;
		int lan;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(ifd, &key, &rec))
			continue;
		lan = !!(rec.flags & GEM_IF_F_LAN);
		xdp = lan ? "-" : rec.xdp_mode == GEM_XDP_GENERIC ? "generic" : "native";
		hook.ifindex = (int)key;
		if (gem_nl_link_get(NULL, key, &link) || strcmp(link.name, rec.name) != 0)
			state = "no-device";	/* gone, renamed, or another netns */
		else if (!lan && (bpf_xdp_query((int)key, 0, &xq) || xq.prog_id != rec.xdp_prog_id))
			state = "xdp-missing";
		else if (bpf_tc_query(&hook, &tco) || tco.prog_id != rec.tc_prog_id)
			state = "tc-missing";
		if (json) {
			json_object *e = json_object_new_object();

			rec.name[sizeof(rec.name) - 1] = 0;
			gem_json_str(e, "name", rec.name);
			gem_json_u64(e, "ifindex", key);
			gem_json_str(e, "role", lan ? "lan" : "wan");
			gem_json_str(e, "xdp_mode", lan ? NULL : xdp);
			gem_json_u64(e, "xdp_prog_id", rec.xdp_prog_id);
			gem_json_u64(e, "tc_prog_id", rec.tc_prog_id);
			gem_json_str(e, "state", state);
			if (arr && e)
				json_object_array_add(arr, e);
			else
				json_object_put(e);
		} else
			printf("%-16s %-8u %-5s %-8s %-10u %-10u %s\n", rec.name, key,
			       lan ? "lan" : "wan", xdp, rec.xdp_prog_id, rec.tc_prog_id, state);
		n++;
	}
	close(ifd);
	if (!json && !n)
		printf("(no interface attached; maps pinned in %s)\n", pin_dir);
	suites_out(top);
	if (json)
		return put_json(arr ? top : (json_object_put(top), NULL));
	return 0;
}

/* dir is the root of a mount (its parent is on another device, or it is /). */
static bool is_mount_point(const char *dir)
{
	char parent[PATH_MAX];
	struct stat a, b;

	if (snprintf(parent, sizeof(parent), "%s/..", dir) >= (int)sizeof(parent) ||
	    stat(dir, &a) || stat(parent, &b))
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

static int put_unloaded(bool dir_removed)
{
	json_object *j = json_object_new_object();

	gem_json_bool(j, "loaded", false);
	gem_json_str(j, "pin_dir", pin_dir);
	gem_json_bool(j, "pin_dir_removed", dir_removed);
	return put_json(j);
}

static int cmd_unload(void)
{
	char path[PATH_MAX];
	__u32 k;
	int ifd, lockfd;

	if (check_root_and_dir(0))
		return 1;
	lockfd = lock_dir();
	ifd = ifaces_fd();
	if (ifd >= 0 && bpf_map_get_next_key(ifd, NULL, &k) == 0) {
		err("interfaces are still attached (see gem-load status; detach them first)");
		close(ifd);
		close(lockfd);
		return 1;
	}
	if (ifd >= 0)
		close(ifd);
	for (const char *const *name = gem_pin_maps; *name; name++)
		if (!path_of(path, sizeof(path), *name))
			unlink(path);
	for (const char *const *name = gem_pin_progs; *name; name++)
		if (!path_of(path, sizeof(path), *name))
			unlink(path);
	if (lockfd >= 0)
		close(lockfd);
	if (is_mount_point(pin_dir)) {
		/* a bpffs mounted right there: the pins are gone, the mount stays */
		if (json)
			return put_unloaded(false);
		printf("gem-load: unloaded (pins removed; %s is a mount point: kept)\n", pin_dir);
		return 0;
	}
	if (rmdir(pin_dir) && errno != ENOENT) {
		err("%s: %s (something else is pinned there)", pin_dir, strerror(errno));
		return 1;
	}
	if (json)
		return put_unloaded(true);
	printf("gem-load: unloaded (%s removed)\n", pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "+jpvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'V': gem_print_version(stdout, "gem-load"); return 0;
		case 'P': pin_dir = optarg; break;
		case 'j': json = true; break;
		case 'p': json = pretty = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default:
			if (json)
				err("bad option (see gem-load --help)");
			else
				usage(stderr);
			return 2;
		}
	}
	if (json)
		opterr = 0;	/* getopt's own messages would go to stderr */
	libbpf_set_print(libbpf_print);
	if (optind >= argc) {
		if (json)
			err("no command given (see gem-load --help)");
		else
			usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "attach"))
		return cmd_attach(argc, argv);
	if (!strcmp(argv[0], "detach"))
		return cmd_detach(argc, argv);
	if (!strcmp(argv[0], "status")) {
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
				json = true;
			} else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--pretty")) {
				json = pretty = true;
			} else {
				err("usage: gem-load [-j|-p] status");
				return 2;
			}
		}
		return cmd_status();
	}
	if (!strcmp(argv[0], "unload"))
		return cmd_unload();
	err("unknown command '%s' (see gem-load --help)", argv[0]);
	return 2;
}
