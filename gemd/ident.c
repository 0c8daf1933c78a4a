// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Node identity proven over each tunnel (wire format and rules in
 * gemd/ident.h, docs/CONTROL.md section 4.5).
 *
 * Per neighbour: when its tunnel is established and the IKE SA's SPIs are
 * known, a fresh challenge goes out over the tunnel every second; the
 * neighbour's challenge is answered with a signature from the HSM (one per
 * challenge: the neighbour's challenge changes only with a new IKE SA, and a
 * new one is signed at most every GEM_IDENT_REPLY_MS).  A valid proof makes
 * the neighbour trusted (gemd_peer_trusted: records, Babel); a proof for
 * another node id, a public key that is not the claimed id's, a bad
 * signature, or no proof within GEM_IDENT_TIMEOUT_MS tear the tunnel down,
 * counted, logged, and kept as the neighbour's problem for gemctl peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gemd/gemd.h"
#include "gemd/cmsg.h"
#include "gemd/log.h"
#include "keys/gem_keys.h"

#define IDENT_GROUP	"ff02::6d:7"
#define IDENT_HOPS	255

/* ---- wire format ------------------------------------------------------------ */

int gem_ident_encode(const struct gem_ident_msg *m, uint8_t *buf, size_t len)
{
	if (len < GEM_IDENT_LEN)
		return -EMSGSIZE;
	memset(buf, 0, GEM_IDENT_LEN);
	buf[0] = 'G';
	buf[1] = 'E';
	buf[2] = 'M';
	buf[3] = 'I';
	buf[4] = GEM_IDENT_VERSION;
	buf[5] = m->flags & (GEM_IDENT_F_PROOF | GEM_IDENT_F_DONE);
	memcpy(buf + 8, m->from, 8);
	memcpy(buf + 16, m->to, 8);
	memcpy(buf + 24, m->spi, 16);
	memcpy(buf + 40, m->nonce, GEM_IDENT_NONCE_LEN);
	if (m->flags & GEM_IDENT_F_PROOF) {
		memcpy(buf + 72, m->echo, GEM_IDENT_NONCE_LEN);
		memcpy(buf + 104, m->pk, 32);
		memcpy(buf + 136, m->sig, 64);
	}
	return GEM_IDENT_LEN;
}

int gem_ident_decode(const uint8_t *buf, size_t len, struct gem_ident_msg *m)
{
	if (len < 8 || memcmp(buf, GEM_IDENT_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] != GEM_IDENT_VERSION)
		return -EPROTONOSUPPORT;
	if (len != GEM_IDENT_LEN || buf[5] & ~(GEM_IDENT_F_PROOF | GEM_IDENT_F_DONE) ||
	    buf[6] || buf[7])
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	m->flags = buf[5];
	memcpy(m->from, buf + 8, 8);
	memcpy(m->to, buf + 16, 8);
	memcpy(m->spi, buf + 24, 16);
	memcpy(m->nonce, buf + 40, GEM_IDENT_NONCE_LEN);
	memcpy(m->echo, buf + 72, GEM_IDENT_NONCE_LEN);
	memcpy(m->pk, buf + 104, 32);
	memcpy(m->sig, buf + 136, 64);
	return 0;
}

void gem_ident_sig_input(const struct gem_ident_msg *m, uint8_t out[GEM_IDENT_SIG_INPUT_LEN])
{
	uint8_t *p = out;

	memcpy(p, GEM_IDENT_CONTEXT, sizeof(GEM_IDENT_CONTEXT));	/* with its NUL */
	p += sizeof(GEM_IDENT_CONTEXT);
	memcpy(p, m->from, 8);
	p += 8;
	memcpy(p, m->to, 8);
	p += 8;
	memcpy(p, m->spi, 16);
	p += 16;
	memcpy(p, m->echo, GEM_IDENT_NONCE_LEN);
}

enum gem_ident_verdict gem_ident_check(const struct gem_ident_msg *m, const uint8_t peer_id[8],
				       const uint8_t self_id[8], const uint8_t spi[16],
				       const uint8_t my_nonce[GEM_IDENT_NONCE_LEN])
{
	uint8_t in[GEM_IDENT_SIG_INPUT_LEN], id[GEM_KEYS_NODE_ID_LEN];

	/* over this neighbour's SA nothing may claim another pair of ids */
	if (memcmp(m->from, peer_id, 8) != 0 || memcmp(m->to, self_id, 8) != 0)
		return GEM_IDENT_WRONG_ID;
	if (memcmp(m->spi, spi, 16) != 0)
		return GEM_IDENT_STALE;
	if (!(m->flags & GEM_IDENT_F_PROOF))
		return GEM_IDENT_NO_PROOF;
	if (sodium_memcmp(m->echo, my_nonce, GEM_IDENT_NONCE_LEN) != 0)
		return GEM_IDENT_STALE;
	gem_keys_node_id_of(m->pk, id);
	if (memcmp(id, peer_id, 8) != 0)
		return GEM_IDENT_PK_NOT_ID;
	gem_ident_sig_input(m, in);
	if (crypto_sign_verify_detached(m->sig, in, sizeof(in), m->pk) != 0)
		return GEM_IDENT_BAD_SIG;
	return GEM_IDENT_OK;
}

const char *gem_ident_verdict_str(enum gem_ident_verdict v)
{
	switch (v) {
	case GEM_IDENT_OK: return "proof valid";
	case GEM_IDENT_NO_PROOF: return "no proof in the message";
	case GEM_IDENT_STALE: return "for another IKE SA or challenge";
	case GEM_IDENT_WRONG_ID: return "the message names another pair of node ids";
	case GEM_IDENT_PK_NOT_ID: return "its public key is not the claimed node id's";
	case GEM_IDENT_BAD_SIG: return "bad signature";
	}
	return "?";
}

/* ---- per neighbour ----------------------------------------------------------- */

bool gemd_peer_trusted(const struct gemd_peer *p)
{
	return p->used && p->tun && p->ident.state == GEMD_IDENT_PROVEN &&
	       p->ident.tun == p->tun && p->tun->state == TUNNEL_ESTABLISHED &&
	       p->tun->ike_spi_known && !memcmp(p->tun->ike_spi, p->ident.spi, 16);
}

static void reset(struct gemd_ident *id)
{
	sodium_memzero(id, offsetof(struct gemd_ident, retry_ms));
	id->state = GEMD_IDENT_NONE;
}

static void membership(struct gemd *g, unsigned int ifindex)
{
	struct ipv6_mreq m = { .ipv6mr_interface = ifindex };

	inet_pton(AF_INET6, IDENT_GROUP, &m.ipv6mr_multiaddr);
	if (setsockopt(g->ident_fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m)) < 0 &&
	    errno != EADDRINUSE)
		log_warn("identity: join %s on ifindex %u: %s", IDENT_GROUP, ifindex,
			 strerror(errno));
}

static void fail(struct gemd *g, struct gemd_peer *p, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct gemd *g, struct gemd_peer *p, uint64_t now, const char *fmt, ...)
{
	struct gemd_ident *id = &p->ident;
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	g->ident.failed++;
	id->failures++;
	id->backoff_ms = !id->backoff_ms ? GEM_IDENT_BACKOFF_MS :
			 gemd_backoff_double(id->backoff_ms, GEM_IDENT_BACKOFF_MAX_MS);
	id->retry_ms = now + id->backoff_ms;
	snprintf(id->problem, sizeof(id->problem), "identity proof failed: %s", why);
	id->problem_ms = now;
	log_err("neighbour %s on %s: node identity proof failed: %s; tunnel torn down, next "
		"attempt in %u s (failures: %u)", p->id_hex, g->disc[p->iface].name, why,
		id->backoff_ms / 1000, id->failures);
	reset(id);
	gemd_peer_drop_tunnel(g, p);
}

static int sign_proof(struct gemd *g, struct gemd_peer *p, struct gem_ident_msg *m)
{
	uint8_t in[GEM_IDENT_SIG_INPUT_LEN];
	int err;

	memcpy(m->echo, p->ident.peer_nonce, GEM_IDENT_NONCE_LEN);
	gem_ident_sig_input(m, in);
	err = gem_keys_node_sign(g->keys, in, sizeof(in), p->ident.sig);
	if (err) {
		log_err("identity: neighbour %s: cannot sign our proof in the HSM: %s", p->id_hex,
			gem_keys_errmsg());
		return err;
	}
	g->ident.signatures++;
	p->ident.have_sig = true;
	return 0;
}

static void send_msg(struct gemd *g, struct gemd_peer *p, uint64_t now)
{
	struct gemd_ident *id = &p->ident;
	struct gem_ident_msg m = { 0 };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(GEM_IDENT_PORT),
				   .sin6_scope_id = id->ifindex };
	uint8_t buf[GEM_IDENT_LEN];

	memcpy(m.from, g->id, 8);
	memcpy(m.to, p->id, 8);
	memcpy(m.spi, id->spi, 16);
	memcpy(m.nonce, id->nonce, GEM_IDENT_NONCE_LEN);
	if (id->state == GEMD_IDENT_PROVEN)
		m.flags |= GEM_IDENT_F_DONE;
	if (id->have_peer_nonce && (id->have_sig || sign_proof(g, p, &m) == 0)) {
		m.flags |= GEM_IDENT_F_PROOF;
		memcpy(m.echo, id->peer_nonce, GEM_IDENT_NONCE_LEN);
		memcpy(m.pk, g->node_pk, 32);
		memcpy(m.sig, id->sig, 64);
	}
	gem_ident_encode(&m, buf, sizeof(buf));
	inet_pton(AF_INET6, IDENT_GROUP, &to.sin6_addr);
	if (sendto(g->ident_fd, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		log_debug("identity: neighbour %s: send: %s", p->id_hex, strerror(errno));
	else
		g->ident.tx++;
	id->next_send_ms = now + GEM_IDENT_RESEND_MS;
}

void gemd_ident_tick(struct gemd *g, struct gemd_peer *p, uint64_t now)
{
	struct gemd_ident *id = &p->ident;
	const struct tunnel *t = p->tun;
	unsigned int ifindex;

	if (g->ident_fd < 0)
		return;
	if (!t || t->state != TUNNEL_ESTABLISHED || !t->ifname[0] || !t->ike_spi_known ||
	    !(ifindex = if_nametoindex(t->ifname))) {
		if (id->state != GEMD_IDENT_NONE)
			reset(id);
		return;
	}
	if (id->state == GEMD_IDENT_NONE || id->tun != t || id->gen != t->gen ||
	    id->ifindex != ifindex || memcmp(id->spi, t->ike_spi, 16) != 0) {
		/* a new IKE SA (or TUN): prove again, trust nothing before */
		if (id->state == GEMD_IDENT_PROVEN)
			log_info("neighbour %s on %s: new IKE SA: proving its node id again",
				 p->id_hex, g->disc[p->iface].name);
		reset(id);
		id->state = GEMD_IDENT_PROVING;
		id->tun = t;
		id->gen = t->gen;
		id->ifindex = ifindex;
		memcpy(id->spi, t->ike_spi, 16);
		randombytes_buf(id->nonce, sizeof(id->nonce));
		id->since_ms = now;
		membership(g, ifindex);
	}
	if (id->state == GEMD_IDENT_PROVING && now - id->since_ms > GEM_IDENT_TIMEOUT_MS) {
		g->ident.timeouts++;
		fail(g, p, now, "no valid proof within %u s of IKE", GEM_IDENT_TIMEOUT_MS / 1000);
		return;
	}
	/* until both ends are done, but not forever if the neighbour never says */
	if (now >= id->next_send_ms && (id->state != GEMD_IDENT_PROVEN || !id->peer_done) &&
	    now - id->since_ms <= 2ULL * GEM_IDENT_TIMEOUT_MS)
		send_msg(g, p, now);
}

static struct gemd_peer *peer_of_ifindex(struct gemd *g, unsigned int ifindex)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (p->used && p->ident.state != GEMD_IDENT_NONE && p->ident.ifindex == ifindex)
			return p;
	}
	return NULL;
}

static void on_msg(struct gemd *g, struct gemd_peer *p, const struct gem_ident_msg *m,
		   uint64_t now)
{
	struct gemd_ident *id = &p->ident;
	enum gem_ident_verdict v = gem_ident_check(m, p->id, g->id, id->spi, id->nonce);
	bool reply = false;

	switch (v) {
	case GEM_IDENT_STALE:
		g->ident.rx_stale++;
		return;
	case GEM_IDENT_WRONG_ID:
		g->ident.wrong_id++;
		fail(g, p, now, "%s", gem_ident_verdict_str(v));
		return;
	case GEM_IDENT_PK_NOT_ID:
		g->ident.pk_not_id++;
		fail(g, p, now, "%s", gem_ident_verdict_str(v));
		return;
	case GEM_IDENT_BAD_SIG:
		g->ident.bad_sig++;
		fail(g, p, now, "%s", gem_ident_verdict_str(v));
		return;
	case GEM_IDENT_OK:
		if (id->state != GEMD_IDENT_PROVEN) {
			id->state = GEMD_IDENT_PROVEN;
			id->backoff_ms = 0;
			id->problem[0] = '\0';
			g->ident.proven++;
			log_info("neighbour %s on %s: node identity proven over %s (%.0f ms after "
				 "IKE)", p->id_hex, g->disc[p->iface].name, p->tun->ifname,
				 (double)(now - id->since_ms));
			reply = true;	/* tell it DONE */
		}
		break;
	case GEM_IDENT_NO_PROOF:
		break;
	}
	if (!id->have_peer_nonce || memcmp(id->peer_nonce, m->nonce, GEM_IDENT_NONCE_LEN) != 0) {
		memcpy(id->peer_nonce, m->nonce, GEM_IDENT_NONCE_LEN);
		id->have_peer_nonce = true;
		id->have_sig = false;
		reply = true;
	}
	if (m->flags & GEM_IDENT_F_DONE)
		id->peer_done = true;
	else if (id->have_peer_nonce)
		reply = true;	/* it still waits for our proof */
	if (reply && (!id->replied_ms || now - id->replied_ms >= GEM_IDENT_REPLY_MS)) {
		id->replied_ms = now;
		send_msg(g, p, now);
	}
}

void gemd_ident_input(struct gemd *g, uint64_t now)
{
	uint8_t buf[GEM_IDENT_LEN + 1];

	for (int k = 0; k < 64; k++) {
		char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct sockaddr_in6 from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct gem_ident_msg m;
		struct gemd_peer *p;
		unsigned int ifindex = 0;
		int hops = -1;
		ssize_t n = recvmsg(g->ident_fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		gemd_cmsg_in6(&mh, &ifindex, &hops);
		/* only from inside an established tunnel, never forwarded */
		p = ifindex ? peer_of_ifindex(g, ifindex) : NULL;
		if (!p || hops != IDENT_HOPS || !IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr) ||
		    gem_ident_decode(buf, n, &m)) {
			g->ident.rx_foreign++;
			log_debug("identity: dropped %zd bytes on ifindex %u (hop limit %d)", n,
				  ifindex, hops);
			continue;
		}
		on_msg(g, p, &m, now);
	}
}

int gemd_ident_open(struct gemd *g)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(GEM_IDENT_PORT) };
	int one = 1, hops = IDENT_HOPS, zero = 0, fd, err;

	g->ident_fd = -1;
	err = gem_keys_node_pubkey(g->keys, g->node_pk);
	if (err) {
		log_err("identity: node public key: %s", gem_keys_errmsg());
		return err;
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		log_err("identity: cannot open UDP port %u: %s", GEM_IDENT_PORT, strerror(-err));
		return err;
	}
	g->ident_fd = fd;
	return 0;
}

void gemd_ident_close(struct gemd *g)
{
	if (g->ident_fd >= 0)
		close(g->ident_fd);
	g->ident_fd = -1;
}
