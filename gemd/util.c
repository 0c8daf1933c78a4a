// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gemd/util.h"

uint64_t gemd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gemd_cmsg_in6(struct msghdr *m, unsigned int *ifindex, int *hops)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IPV6_PKTINFO)
			*ifindex = ((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex;
		else if (c->cmsg_type == IPV6_HOPLIMIT)
			memcpy(hops, CMSG_DATA(c), sizeof(*hops));
	}
}

/* Hex through libsodium (constant time, as for key-derived bytes). */
void gemd_hex(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

int gemd_unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (!hex || strlen(hex) != 2 * n)
		return -EINVAL;
	if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) || got != n || *end)
		return -EINVAL;
	return 0;
}

void gemd_id_eui64(const uint8_t id[8], char out[24])
{
	snprintf(out, 24, "%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x", id[0], id[1], id[2], id[3],
		 id[4], id[5], id[6], id[7]);
}

int gemd_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)f;
	if (flag == FTW_DP)
		return rmdir(p) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(p) < 0 && errno != ENOENT ? -1 : 0;
}

int gemd_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return 0;
}

int gemd_reset_dir(const char *dir, const char *const *keep, mode_t mode)
{
	char path[4096], old[4096 + 8];
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? gemd_mkdir_p(dir, mode) : -errno;
	while ((de = readdir(d))) {
		bool kept = false, older = false;
		size_t nl = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (const char *const *k = keep; k && *k; k++) {
			size_t kl = strlen(*k);

			kept |= !strcmp(de->d_name, *k);
			older |= nl == kl + 2 && !strncmp(de->d_name, *k, kl) &&
				 !strcmp(de->d_name + kl, ".1");
		}
		if (older)
			continue;	/* replaced by the rename below, or kept */
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
			err = -ENAMETOOLONG;
			continue;
		}
		if (kept) {
			snprintf(old, sizeof(old), "%s.1", path);
			if (rename(path, old) < 0)
				err = -errno;
		} else {
			int e = gemd_rm_rf(path);

			if (e)
				err = e;
		}
	}
	closedir(d);
	return err;
}

int gemd_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, err = 0;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += w;
	}
	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

long gemd_read_number(const char *path, long min, long max)
{
	char buf[32], *end;
	ssize_t n;
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && !isspace((unsigned char)*end)) || v < min || v > max)
		return -EINVAL;
	return v;
}

pid_t gemd_read_pidfile(const char *path)
{
	long v = gemd_read_number(path, 1, INT32_MAX);

	return (pid_t)v;
}

void gemd_bucket_init(struct gemd_bucket *b, unsigned int rate, unsigned int burst,
		      uint64_t now_ms)
{
	b->rate = rate;
	b->burst = burst;
	b->mtok = (uint64_t)burst * 1000;
	b->last_ms = now_ms;
}

bool gemd_bucket_take(struct gemd_bucket *b, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)b->burst * 1000;

	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms;

		/* dt * rate: no overflow for any dt below 2^64 / 10^4 ms */
		b->mtok = dt >= cap ? cap : b->mtok + dt * b->rate;
		if (b->mtok > cap)
			b->mtok = cap;
		b->last_ms = now_ms;
	}
	if (b->mtok < 1000)
		return false;
	b->mtok -= 1000;
	return true;
}
