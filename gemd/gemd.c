// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd: GEM's control-plane daemon (docs/CONTROL.md).
 *
 *   gemd [-c FILE] [-v]          run (foreground; logs on stderr)
 *   gemd [-c FILE] --check-config
 *
 * One single-threaded poll loop: a signalfd (SIGCHLD, SIGTERM, SIGINT,
 * SIGHUP), the discovery sockets, the control socket, babeld's local
 * interface, and a 100 ms tick for timers (beacons, tunnel state machines,
 * restarts).  gemd owns the HSM token while it runs, and everything it
 * starts: on SIGTERM it stops its charons and babeld, removes the addresses
 * it added and the Babel routes, and wipes its runtime directory.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gemd/charon_algs.h"
#include "gemd/files.h"
#include "gemd/gemd.h"
#include "gemd/log.h"
#include "gemd/nl.h"
#include "gemd/proc.h"
#include "keys/gem_keys.h"
#include "gem_version.h"

#define TICK_MS		100
#define DISC_RETRY_MS	2000
#define BEACON_MIN_GAP_MS 200	/* a changed beacon goes out early, but not more often */

struct beacon_out {
	uint8_t last[GEM_BEACON_MAX_LEN];
	int last_len;
	uint64_t sent_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gemd [-c FILE] [-v] [--check-config] | --version\n"
		"\n"
		"GEM control-plane daemon: discovers GEM neighbours on the configured links,\n"
		"runs an IKEv2/ESP tunnel to each (strongSwan) and Babel over them (babeld).\n"
		"\n"
		"  -c, --config FILE   configuration (default " GEMD_DEFAULT_CONFIG "; SIGHUP\n"
		"                      reloads it: docs/CONTROL.md 2.1)\n"
		"      --check-config  parse and check the configuration, then exit\n"
		"  -v, --verbose       debug log\n"
		"  -V, --version       version and map layout of this gemd\n"
		"  -h, --help          this text\n"
		"\n"
		"Reference: docs/CONTROL.md; example: gemd/gemd.conf.example.\n");
}

/* charon's plugins ([tunnel] charon_plugins) as files next to charon
 * (<dir of charon>/plugins/libstrongswan-NAME.so): one line per missing one,
 * with its Debian package.  A required plugin missing is an error; another
 * only a warning (the proposals may not need it; the VICI check at tunnel
 * start tells for sure). */
static int check_plugins(const struct gemd_config *c)
{
	char list[sizeof(c->charon_plugins)], path[GEMD_PATH_MAX + 64], *save = NULL;
	const char *slash = strrchr(c->charon, '/');
	int dl = slash ? (int)(slash - c->charon) : 1, bad = 0;

	snprintf(list, sizeof(list), "%s", c->charon_plugins);
	for (char *p = strtok_r(list, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		const char *pkg = gemd_charon_plugin_package(p);
		bool required = strstr(" " GEMD_CHARON_REQUIRED_PLUGINS " ", p) != NULL;

		snprintf(path, sizeof(path), "%.*s/plugins/libstrongswan-%s.so", dl,
			 slash ? c->charon : ".", p);
		if (access(path, R_OK) == 0)
			continue;
		fprintf(stderr, "gemd: %s: %s[tunnel] charon plugin '%s' missing (%s)%s%s%s\n",
			c->path, required ? "" : "warning: ", p, path, pkg ? ": install " : "",
			pkg ? pkg : "", required ? "" : "; IKE fails if the proposals need it");
		bad += required;
	}
	return bad;
}

/* Files the configuration names: one line per problem, count returned. */
static int check_files(const struct gemd_config *c)
{
	struct stat st;
	int bad = 0, fd;

	if (access(c->charon, X_OK) < 0) {
		fprintf(stderr, "gemd: %s: [tunnel] charon '%s': %s (install strongswan-charon)\n",
			c->path, c->charon, strerror(errno));
		bad++;
	} else {
		bad += check_plugins(c);
	}
	if (access(c->babeld, X_OK) < 0) {
		fprintf(stderr, "gemd: %s: [babel] babeld '%s': %s (install babeld)\n", c->path,
			c->babeld, strerror(errno));
		bad++;
	}
	if (access(c->module, R_OK) < 0) {
		fprintf(stderr, "gemd: %s: [hsm] module '%s': %s%s\n", c->path, c->module,
			strerror(errno), strstr(c->module, "libsofthsm2.so") ?
			" (install softhsm2, or name your HSM's PKCS#11 module)" : "");
		bad++;
	}
	/* kernel-libipsec moves ESP through a TUN device */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "gemd: /dev/net/tun: %s (the libipsec tunnels need TUN: a kernel "
			"with CONFIG_TUN, and the device passed into a container)\n", strerror(errno));
		bad++;
	} else {
		close(fd);
	}
	if (stat(c->pin_file, &st) < 0 || access(c->pin_file, R_OK) < 0) {
		fprintf(stderr, "gemd: %s: [hsm] pin_file '%s': %s\n", c->path, c->pin_file,
			strerror(errno));
		bad++;
	} else if (st.st_mode & 077) {
		/* refused, not warned about: whoever can read it can log in to
		 * the token and use every key in it */
		fprintf(stderr, "gemd: %s: [hsm] pin_file '%s' is mode %04o: open to group or "
			"others; refused (run: chmod 600 %s)\n", c->path, c->pin_file,
			st.st_mode & 07777, c->pin_file);
		bad++;
	}
	return bad;
}

/* Key hygiene (docs/SECURITY.md 5): gemd holds the PIN, the HSM session
 * (an in-process PKCS#11 module such as SoftHSM keeps the token's keys in
 * this process) and SEKs on their way into the data plane.  None of it may
 * reach swap or a core file:
 *   - mlockall(MCL_CURRENT | MCL_FUTURE): every page, now and later; gemd
 *     runs as root (CAP_IPC_LOCK: RLIMIT_MEMLOCK does not apply), so a
 *     failure is an error, not a fallback;
 *   - RLIMIT_CORE 0, which the children (charon, babeld) inherit;
 *   - PR_SET_DUMPABLE 0: no core file whatever the limit or core_pattern (a
 *     pipe to systemd-coredump ignores RLIMIT_CORE), no ptrace by other
 *     users, /proc/PID files owned by root.  Not inherited across execve. */
static int harden_process(void)
{
	struct rlimit no_core = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &no_core) < 0) {
		log_err("setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		log_err("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
		return -errno;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
		int err = -errno;
		struct rlimit ml;

		getrlimit(RLIMIT_MEMLOCK, &ml);
		log_err("mlockall: %s (RLIMIT_MEMLOCK %lld bytes): gemd keeps keys in memory that "
			"must not reach swap; run it with CAP_IPC_LOCK (as root) or LimitMEMLOCK=infinity",
			strerror(-err), ml.rlim_cur == RLIM_INFINITY ? -1LL : (long long)ml.rlim_cur);
		return err;
	}
	return 0;
}

static void reset_tun_dirs(struct gemd *g)
{
	char path[GEMD_PATH_MAX + 300];
	struct dirent *de;
	DIR *d = opendir(g->tun_dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", g->tun_dir, de->d_name);
		if (gemd_reset_dir(path, g->backend->keep_files, 0700))
			log_warn("cannot clean %s", path);
	}
	closedir(d);
}

static int lock_run_dir(const struct gemd_config *c, int *fdp)
{
	char path[GEMD_PATH_MAX + 16], buf[32];
	int fd, err, n;

	err = gemd_mkdir_p(c->run_dir, 0700);
	if (err) {
		log_err("cannot create run_dir %s: %s", c->run_dir, strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/gemd.pid", c->run_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = -errno;
		log_err("cannot open %s: %s", path, strerror(errno));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = -errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_err("another gemd (pid %s) runs with run_dir %s", buf[0] ? buf : "?",
			c->run_dir);
		close(fd);
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, n, 0) != n)
		log_warn("cannot write %s", path);
	*fdp = fd;
	return 0;
}

static int derive_psk(void *arg, const uint8_t peer[8], uint8_t *psk)
{
	struct gemd *g = arg;
	char hex[GEMD_ID_HEX];
	int err = gem_keys_ipsec_psk(g->keys, g->id, peer, 0, psk);

	if (err) {
		gemd_hex(peer, 8, hex);
		log_err("neighbour %s: cannot derive the IPsec PSK in the HSM: %s", hex,
			gem_keys_errmsg());
	}
	return err;
}

static int open_hsm(struct gemd *g)
{
	struct gem_keys_cfg kc = {
		.module = g->cfg.module, .token = g->cfg.token, .pin_file = g->cfg.pin_file,
		/* the lock gemctl keys takes too: NULL means $GEM_LOCK_DIR or /run/gem */
		.lock_dir = g->cfg.lock_dir[0] ? g->cfg.lock_dir : NULL, .lock_wait_ms = 3000,
	};
	uint8_t probe[GEM_KEYS_PSK_LEN], other[8];
	int err;

	err = gem_keys_open(&g->keys, &kc);
	if (err) {
		log_err("HSM: %s", gem_keys_errmsg());
		return err;
	}
	err = gem_keys_node_id(g->keys, g->id);
	if (err) {
		log_err("HSM: %s (run: gemctl keys init)", gem_keys_errmsg());
		return err;
	}
	gemd_hex(g->id, 8, g->id_hex);
	if (g->cfg.have_node_id && memcmp(g->cfg.node_id, g->id, 8) != 0) {
		char want[GEMD_ID_HEX];

		gemd_hex(g->cfg.node_id, 8, want);
		log_err("token '%s' holds node %s, but %s says node_id = %s", g->cfg.token,
			g->id_hex, g->cfg.path, want);
		return -EINVAL;
	}
	/* Fail now, not at the first neighbour, if the BK is missing. */
	memcpy(other, g->id, 8);
	other[7] ^= 1;
	err = gem_keys_ipsec_psk(g->keys, g->id, other, 0, probe);
	sodium_memzero(probe, sizeof(probe));
	if (err) {
		log_err("HSM: %s (import the domain's Bootstrap Key: gemctl keys import bk FILE)",
			gem_keys_errmsg());
		return err;
	}
	return 0;
}

/* <run_dir>/addresses lists the addresses a gemd of this run_dir added to
 * lo, so the one that follows a killed gemd still removes them at exit. */
static void addr_file(const struct gemd *g, char *buf, size_t len)
{
	snprintf(buf, len, "%s/addresses", g->cfg.run_dir);
}

static void add_addresses(struct gemd *g, bool *added)
{
	unsigned int lo = if_nametoindex("lo");
	char path[GEMD_PATH_MAX + 16], line[128], *list = NULL;
	size_t len = 0;
	FILE *f;

	addr_file(g, path, sizeof(path));
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < g->cfg.naddrs; i++)
			if (!strcmp(line, g->cfg.addrs[i].text))
				added[i] = true;	/* a killed gemd added it */
	}
	if (f)
		fclose(f);
	for (int i = 0; i < g->cfg.naddrs; i++) {
		const struct gemd_prefix *p = &g->cfg.addrs[i];
		int err;

		if (!g->cfg.add_address)
			continue;
		err = gemd_nl_has_addr(p);
		if (err > 0)
			continue;
		err = gemd_nl_addr(true, lo, p);
		if (err && err != -EEXIST) {
			log_err("cannot add %s to lo: %s", p->text, strerror(-err));
			continue;
		}
		if (!err) {
			added[i] = true;
			log_info("added %s to lo", p->text);
		}
	}
	f = open_memstream(&list, &len);
	if (!f)
		return;
	for (int i = 0; i < g->cfg.naddrs; i++)
		if (added[i])
			fprintf(f, "%s\n", g->cfg.addrs[i].text);
	if (fclose(f) == 0 && gemd_write_file(path, list, len, 0600))
		log_warn("cannot write %s", path);
	free(list);
}

static void del_addresses(struct gemd *g, const bool *added)
{
	unsigned int lo = if_nametoindex("lo");
	char path[GEMD_PATH_MAX + 16];

	for (int i = 0; i < g->cfg.naddrs; i++) {
		int err;

		if (!added[i])
			continue;
		err = gemd_nl_addr(false, lo, &g->cfg.addrs[i]);
		if (err)
			log_warn("cannot remove %s from lo: %s", g->cfg.addrs[i].text,
				 strerror(-err));
		else
			log_info("removed %s from lo", g->cfg.addrs[i].text);
	}
	addr_file(g, path, sizeof(path));
	unlink(path);
}

static void disc_retry(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->ndisc; i++) {
		struct disc_if *d = &g->disc[i];
		char why[160];
		int err;

		if (d->fd >= 0 || now < d->retry_ms)
			continue;
		d->retry_ms = now + DISC_RETRY_MS;
		err = disc_if_open(d, &g->cfg, why, sizeof(why));
		if (err) {
			if (err != d->last_err)
				log_warn("discovery on %s: %s; retrying every %u s", d->name, why,
					 DISC_RETRY_MS / 1000);
			d->last_err = err;
			continue;
		}
		log_info("discovery on %s (ifindex %u): beacons to [%s]:%u every %u ms", d->name,
			 d->ifindex, g->cfg.disc_group_text, g->cfg.disc_port, g->cfg.beacon_ms);
		d->last_err = 0;
		d->next_send_ms = now;
	}
}

static void disc_send(struct gemd *g, struct beacon_out *bo, uint64_t now)
{
	uint8_t buf[GEM_BEACON_MAX_LEN];

	for (int i = 0; i < g->ndisc; i++) {
		struct disc_if *d = &g->disc[i];
		bool changed;
		int n, err;

		if (d->fd < 0)
			continue;
		n = gemd_beacon_build(g, i, buf, sizeof(buf));
		if (n < 0)
			continue;
		changed = n != bo[i].last_len || memcmp(buf, bo[i].last, n) != 0;
		if (now < d->next_send_ms &&
		    !(changed && now - bo[i].sent_ms >= BEACON_MIN_GAP_MS))
			continue;
		err = disc_if_send(d, &g->cfg, buf, n);
		/* +-10% jitter keeps the nodes of a link from beaconing in step */
		d->next_send_ms = now + g->cfg.beacon_ms * 9 / 10 +
				  randombytes_uniform(g->cfg.beacon_ms / 5 + 1);
		if (err == -ENODEV || err == -ENXIO) {
			log_warn("discovery on %s: interface gone", d->name);
			disc_if_close(d);
			d->retry_ms = now + DISC_RETRY_MS;
			continue;
		}
		if (err) {
			/* e.g. EADDRNOTAVAIL while the link-local address is tentative */
			log_debug("discovery on %s: send: %s", d->name, strerror(-err));
			continue;
		}
		memcpy(bo[i].last, buf, n);
		bo[i].last_len = n;
		bo[i].sent_ms = now;
	}
}

static void disc_input(struct gemd *g, int i, uint64_t now)
{
	uint8_t buf[GEM_BEACON_MAX_LEN + 256];
	struct in6_addr src;
	struct gem_beacon b;

	for (int k = 0; k < 64; k++) {
		int n = disc_if_recv(&g->disc[i], buf, sizeof(buf), &src), err;

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			if (n != -EBADMSG) {
				log_debug("discovery on %s: recv: %s", g->disc[i].name, strerror(-n));
				return;
			}
			continue;
		}
		err = gem_beacon_decode(buf, n, &b);
		if (err) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(AF_INET6, &src, a, sizeof(a));
			log_debug("discovery on %s: ignored %d bytes from %s: %s", g->disc[i].name, n,
				  a, err == -EPROTONOSUPPORT ? "other version" : "malformed");
			continue;
		}
		gemd_peer_beacon(g, i, &src, &b, now);
	}
}

static void reap(struct gemd *g, uint64_t now)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (babel_child_exited(&g->babel, pid, st, now))
			continue;
		if (gemd_peers_child_exited(g, pid, st, now))
			continue;
		log_debug("reaped pid %d", pid);
	}
}

static int run(struct gemd *g, int sfd)
{
	struct beacon_out *bo;
	/* tunnels: one descriptor each, plus the identity socket (peer.c) */
	struct pollfd pfd[5 + GEMD_MAX_IFACES + GEMD_MAX_TUNNELS + 1];
	int didx[GEMD_MAX_IFACES];
	unsigned int tidx[GEMD_MAX_TUNNELS + 1];
	bool stop = false;

	bo = calloc(GEMD_MAX_IFACES, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	while (!stop) {
		uint64_t now = gemd_now_ms();
		int n = 0, nd = 0, nt, r, bfd, cfd, efd;

		disc_retry(g, now);
		gemd_peers_tick(g, now);
		babel_tick(&g->babel, now);
		disc_send(g, bo, now);
		gemd_cp_tick(g, now);

		pfd[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ g->ctl_fd, POLLIN, 0 };
		bfd = babel_fd(&g->babel);
		pfd[n++] = (struct pollfd){ bfd, POLLIN, 0 };	/* -1 is skipped by poll */
		cfd = g->cp.fd;
		pfd[n++] = (struct pollfd){ cfd, POLLIN, 0 };
		efd = gemd_cp_dp_fd(g);
		pfd[n++] = (struct pollfd){ efd, POLLIN, 0 };
		for (int i = 0; i < g->ndisc; i++) {
			if (g->disc[i].fd < 0)
				continue;
			didx[nd++] = i;
			pfd[n++] = (struct pollfd){ g->disc[i].fd, POLLIN, 0 };
		}
		nt = gemd_peers_pollfds(g, pfd + n, tidx, GEMD_MAX_TUNNELS + 1);
		n += nt;
		r = poll(pfd, n, gemd_cp_timeout_ms(g, gemd_now_ms(), TICK_MS));
		if (r < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		now = gemd_now_ms();
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					reap(g, now);
				} else if (si.ssi_signo == SIGHUP) {
					/* interfaces may have moved: every beacon anew */
					if (gemd_reload(g, now))
						memset(bo, 0, GEMD_MAX_IFACES * sizeof(*bo));
				} else {
					log_info("%s: shutting down", strsignal(si.ssi_signo));
					stop = true;
				}
			}
		}
		if (pfd[1].revents & POLLIN)
			gemd_ctl_serve(g, g->ctl_fd);
		if (bfd >= 0 && pfd[2].revents)
			babel_input(&g->babel, now);
		if (cfd >= 0 && pfd[3].revents)
			gemd_cp_input(g, now);
		if (efd >= 0 && pfd[4].revents)
			gemd_cp_dp_input(g);
		for (int i = 0; i < nd; i++)
			if (pfd[5 + i].revents)
				disc_input(g, didx[i], now);
		for (int i = 0; i < nt; i++)
			if (pfd[5 + nd + i].revents)
				gemd_peers_input(g, tidx[i], now);
	}
	free(bo);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *path = GEMD_DEFAULT_CONFIG;
	struct gemd *g = NULL;
	bool check = false, added[GEMD_MAX_ADDRS] = { false };

	gemd_log_init();
	char err_msg[512], lockpath[GEMD_PATH_MAX + 64];
	int c, err, rc = 1, run_fd = -1, sfd = -1;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "c:vhV", lo, NULL)) != -1) {
		switch (c) {
		case 'V': gem_print_version(stdout, "gemd"); return 0;
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'v': gemd_log_level = GLOG_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		fprintf(stderr, "gemd: out of memory\n");
		return 1;
	}
	g->ctl_fd = -1;
	g->cp.fd = -1;
	g->check_files = check_files;
	err = gemd_config_load(&g->cfg, path, err_msg, sizeof(err_msg));
	if (err) {
		fprintf(stderr, "gemd: %s\n", err_msg);
		goto out_free;
	}
	if (check_files(&g->cfg))
		goto out_free;
	if (check) {
		printf("gemd: %s: configuration ok (%d interface(s), %d address(es), backend %s, "
		       "run_dir %s)\n", g->cfg.path, g->cfg.nifaces, g->cfg.naddrs, g->cfg.backend,
		       g->cfg.run_dir);
		rc = 0;
		goto out_free;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "gemd: must run as root (tunnels, routes, namespaces)\n");
		goto out_free;
	}
	if (harden_process())
		goto out_free;
	if (sodium_init() < 0) {
		fprintf(stderr, "gemd: libsodium failed to initialise\n");
		goto out_free;
	}
	g->backend = tunnel_backend(g->cfg.backend);
	g->started_ms = gemd_now_ms();

	/* signals first: a SIGTERM during start-up still tears down cleanly */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out_free;
	}

	if (lock_run_dir(&g->cfg, &run_fd))
		goto out_free;
	snprintf(g->tun_dir, sizeof(g->tun_dir), "%s/tun", g->cfg.run_dir);
	snprintf(g->babel_dir, sizeof(g->babel_dir), "%s/babeld", g->cfg.run_dir);
	/* a killed gemd's charons died with it (SIGKILL on parent death), leaving
	 * their rules and routing tables (tunnel_libipsec.c), and their logs:
	 * kept as NAME.1 in each tunnel directory */
	reset_tun_dirs(g);
	err = gemd_nl_flush_tables(g->cfg.table_base,
				   g->cfg.table_base + g->cfg.max_neighbours - 1);
	if (err > 0)
		log_info("removed %d rule(s)/route(s) of killed charons", err);
	err = gemd_mkdir_p(g->tun_dir, 0700);
	if (err) {
		log_err("cannot create %s: %s", g->tun_dir, strerror(-err));
		goto out_unlock;
	}
	if (open_hsm(g))
		goto out_unlock;
	log_info("starting: GEM %s, node %s%s%s%s, %d interface(s), run_dir %s, backend %s",
		 gem_build_version, g->id_hex, g->cfg.name[0] ? " (" : "", g->cfg.name,
		 g->cfg.name[0] ? ")" : "", g->cfg.nifaces, g->cfg.run_dir, g->backend->name);

	g->tenv = (struct tunnel_env){ .cfg = &g->cfg, .dir = g->tun_dir, .psk = derive_psk,
				       .arg = g };
	if (gemd_peers_init(g))
		goto out_hsm;
	if (babel_init(&g->babel, &g->cfg, g->id, g->babel_dir))
		goto out_peers;
	if (gemd_cp_init(g))
		goto out_babel;
	g->ctl_fd = gemd_ctl_open(g->cfg.socket);
	if (g->ctl_fd < 0) {
		log_err("control socket %s: %s", g->cfg.socket, strerror(-g->ctl_fd));
		goto out_babel;
	}
	add_addresses(g, added);
	g->ndisc = g->cfg.nifaces;
	for (int i = 0; i < g->ndisc; i++)
		disc_if_init(&g->disc[i], g->cfg.ifaces[i]);

	rc = run(g, sfd) ? 1 : 0;

	for (int i = 0; i < g->ndisc; i++)
		disc_if_close(&g->disc[i]);
	gemd_mon_close_all(&g->mon);
	gemd_ctl_close(g->ctl_fd, g->cfg.socket);
out_babel:
	gemd_cp_close(g);
	/* babeld first, while the tunnels still carry its last retractions */
	babel_stop(&g->babel);
out_peers:
	gemd_peers_close_all(g);
	del_addresses(g, added);	/* only those this gemd added (none yet: no-op) */
out_hsm:
	gem_keys_close(g->keys);	/* its lock file stays, as gemctl keys leaves it */
out_unlock:
	gemd_rm_rf(g->tun_dir);
	snprintf(lockpath, sizeof(lockpath), "%s/gemd.pid", g->cfg.run_dir);
	unlink(lockpath);
	close(run_fd);
	if (rmdir(g->cfg.run_dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		log_debug("rmdir %s: %s", g->cfg.run_dir, strerror(errno));
	log_info("stopped");
out_free:
	if (sfd >= 0)
		close(sfd);
	free(g);
	return rc;
}
