/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the BPF programs and user space must agree on: wire constants, map
 * key/value layouts, counter indexes and the control-request layout of the
 * SEC("syscall") key-loading program.  The wire format itself is specified in
 * docs/PROTOCOL.md; keep the two in step.
 *
 * This header is included from BPF (after vmlinux.h) and from user space
 * (after <linux/types.h>), so it uses only __u8/__u16/... types.
 */
#ifndef GEM_COMMON_H
#define GEM_COMMON_H

#ifndef __BPF__
#include <linux/types.h>
#include <linux/bpf.h>		/* struct bpf_spin_lock */
#endif

/* ---- wire format -------------------------------------------------------- */

#define GEM_VERSION		1
#define GEM_SUITE_HMAC_SHA256	1	/* AES-128-CTR + HMAC-SHA-256-128 */
#define GEM_SUITE_CMAC		2	/* AES-128-CTR + AES-CMAC (RFC 4493) */
#define GEM_SUITE_POLY1305	3	/* AES-128-CTR + Poly1305, one-time key from the keystream */
#define GEM_SUITE_CHACHA20_POLY1305 4	/* RFC 8439 2.8 AEAD, 256-bit SEK, all in BPF */
#define GEM_SUITE_MAX		4

/* Suites the data plane offers on a kernel without the BPF crypto kfuncs
 * (bit s set: suite s); with them, every suite 1..GEM_SUITE_MAX. */
#define GEM_SUITES_NO_KFUNCS	(1u << GEM_SUITE_CHACHA20_POLY1305)

/* SEK lengths: suites 1-3 AES-128, suite 4 a ChaCha20 key. */
#define GEM_SEK_AES_LEN		16
#define GEM_SEK_CHACHA_LEN	32
#define GEM_SEK_MAX_LEN		32

#define GEM_HDR_LEN		12	/* version, suite, key id, packet number */
#define GEM_TAG_LEN		16
#define GEM_OVERHEAD		(GEM_HDR_LEN + GEM_TAG_LEN)
#define GEM_AAD_LEN		48	/* src(16) grp(16) sport dport gem hdr */

/* Counter blocks 0 and 1 of every packet are reserved (one-time MAC keys
 * of a keystream-keyed suite); payload keystream starts at block 2. */
#define GEM_CTR_FIRST_PAYLOAD_BLOCK 2

/* Largest plaintext payload (bytes after the UDP header) the data plane
 * handles; larger protected packets are dropped and counted.  Covers every
 * payload that fits a 1500-byte MTU once sealed. */
#define GEM_MAX_PT		1536
#define GEM_MAX_BLOCKS		(GEM_MAX_PT / 16 + GEM_CTR_FIRST_PAYLOAD_BLOCK)

/* Packet numbers are 64-bit on the wire; a stream refuses to seal past
 * this value and ingress refuses a pn at or above it (rekey long before;
 * see docs/PROTOCOL.md). */
#define GEM_PN_LIMIT		(1ULL << 62)

/* A new egress stream's first packet number is the CLOCK_REALTIME time of
 * its creation in nanoseconds (docs/PROTOCOL.md 4): a stream sends fewer
 * than 10^9 packets a second, so every pn it used stays below the clock, and
 * an entry created again later (sek del + set, unload + attach, reboot)
 * starts above them all.  A clock before this (2020-01-01T00:00:00Z) is
 * taken for an unset one and refused (-ERANGE): it would restart near 0. */
#define GEM_PN_CLOCK_MIN	1577836800000000000ULL

#define GEM_REPLAY_WORDS	4	/* ring of 4 x 64 bits; see gem_replay_check() */

struct gem_hdr {
	__u8 version;
	__u8 suite;
	__be16 key_id;
	__be32 pn_hi;		/* packet number, big-endian, split so the */
	__be32 pn_lo;		/* struct has no 8-byte alignment padding  */
} __attribute__((packed));

/* ---- maps ---------------------------------------------------------------- */

/* An IPv6 address, or an IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct gem_addr {
	__u8 a[16];
};

/* Key of the egress and ingress stream maps: (source, group). */
struct gem_sg {
	struct gem_addr src;
	struct gem_addr grp;
};

#define GEM_GROUP_F_ACTIVE	1
/* Transit: the group is protected in the domain but this node holds no key
 * for it (gemd lists it without its GAK; gemctl group add --transit).  Its
 * sealed packets are relayed as they are (ingress and WAN egress check
 * their shape only: rx_transit / tx_transit) and never delivered to a LAN
 * (gem_lan_egress drops them: lan_sealed_drop).  No MAC key, no context;
 * suite 0 means "any suite". */
#define GEM_GROUP_F_TRANSIT	2

/* Group filter (map gem_gfilter, one entry): per bucket of group addresses,
 * how many groups of gem_groups are in it.  Only gem_ctl writes it: the
 * count goes up before a group is inserted and down after one is deleted,
 * so a bucket holding a group is never 0.  The data plane passes traffic
 * to a group of an empty bucket without the hash lookup (one array load
 * instead: docs/PERFORMANCE.md).  The bucket of an address is
 * gem_gf_bucket() of its four 32-bit words as they are in memory (an
 * IPv4-mapped address: 0, 0, htonl(0xffff), the IPv4 address). */
#define GEM_GF_BITS	12
#define GEM_GF_BUCKETS	(1u << GEM_GF_BITS)

struct gem_gfilter {
	__u32 n[GEM_GF_BUCKETS];
};

static inline __attribute__((always_inline)) __u32
gem_gf_bucket(__u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	return ((w0 ^ w1 ^ w2 ^ w3) * 0x9e3779b1u) >> (32 - GEM_GF_BITS);
}

/* One group MAC key (suites 1, 2), as the data plane keeps it: suite 1 the
 * HMAC-SHA-256 inner/outer states after the key^ipad and key^opad blocks, so
 * a packet pays no key blocks; suite 2 the CMAC subkeys K1/K2 (its cbc(aes)
 * context holding the key itself is the slot's kptr in struct gem_group). */
struct gem_mac_key {
	__u32 hmac_istate[8];
	__u32 hmac_ostate[8];
	__u8 cmac_k1[16];
	__u8 cmac_k2[16];
};

/* Group policy map value: group -> suite and MAC keys.  Suites 1 and 2 MAC
 * every packet with a key derived from the group's GAK of one epoch
 * (docs/KEYS.md 3); two key slots let the group move to a new epoch with no
 * packet lost (docs/PROTOCOL.md 5):
 *   - egress MACs under slot `tx` only;
 *   - ingress verifies under slot `tx`, and only if that fails and the other
 *     slot is loaded, under the other one (rx_mac_prev counts those accepted);
 *   - bit i of `loaded`: slot i holds a key, of epoch `epoch[i]`.
 * gem_ctl changes them (GEM_OP_SET_GROUP, GROUP_KEY, GROUP_USE, GROUP_RETIRE):
 * a slot's key is only ever written while the slot is not `tx`, so egress
 * never reads a half-written key.  `lock` guards tx/loaded/epoch/loading
 * for gem_ctl only (packets read them without it).  Suites 3 and 4 have no
 * group key: `loaded` is 0. */
struct gem_group {
	__u32 suite;
	__u32 flags;
	struct bpf_spin_lock lock;
	__u32 tx;		/* slot egress uses (0 or 1) */
	__u32 loaded;		/* bit i: slot i holds a key */
	__u32 loading;		/* a gem_ctl op is under way: others get EBUSY */
	__u32 epoch[2];		/* GAK epoch of each loaded slot's key */
	struct gem_mac_key mk[2];
#ifdef __BPF__
	struct bpf_crypto_ctx __kptr *cmac0;	/* suite 2: cbc(aes) of slot 0, 1 */
	struct bpf_crypto_ctx __kptr *cmac1;
#else
	__u64 cmac0, cmac1;	/* kernel pointers; opaque to user space */
#endif
};

/* Egress stream value.  Two key slots: `cur` names the one in use.  A
 * rotation fills the other slot and flips `cur` under the lock, so every
 * packet takes (key id, context, packet number) atomically.  The packet
 * number runs on across rotations: it is never reset while the stream
 * exists, and a new entry starts at the clock (GEM_PN_CLOCK_MIN), so even
 * a SEK loaded twice never sees a counter block again. */
struct gem_tx_stream {
	struct bpf_spin_lock lock;
	__u32 cur;
	__u32 key_id[2];
	__u32 loading;		/* a key load is under way (gem_ctl): others get EBUSY */
	__u64 next_pn;
	__u64 packets;
	__u64 bytes;
#ifdef __BPF__
	struct bpf_crypto_ctx __kptr *ctx0;
	struct bpf_crypto_ctx __kptr *ctx1;
	struct gem_chacha_key __kptr *ck0;	/* suite 4 keys of slots 0, 1 */
	struct gem_chacha_key __kptr *ck1;
#else
	__u64 ctx0, ctx1, ck0, ck1;
#endif
};

/* Suite 4's SEK in the kernel: a program-allocated object (bpf_obj_new)
 * held by a kptr, as the AES contexts are: a map lookup from user space
 * never returns its bytes (kptr fields read as zero).  A key slot holds
 * either an AES context (16-byte SEK) or this (32-byte SEK), never both. */
struct gem_chacha_key {
	__u32 k[8];		/* the 32-byte SEK as RFC 8439 key words (le32) */
};

#define GEM_KEY_ID_NONE		0xffffffffu	/* slot empty (key ids are 16-bit) */

/* Ingress replay state of one key slot: `top` is 1 + the highest packet
 * number accepted (0: none yet); bit pn % 64 of word (pn / 64) % 4 is set
 * once pn was accepted (RFC 6479-style ring). */
struct gem_replay {
	__u64 top;
	__u64 bits[GEM_REPLAY_WORDS];
};

/* Ingress stream value: the two newest key ids by key-id order (16-bit
 * serial arithmetic, gem_kid_newer()), so a rotation loses no packet.
 * `cur` names the newest slot.  sek_fp[i] is the fingerprint of slot i's SEK
 * (GEM_SEK_FP_LEN bytes of SHA-256("GEM v1 sek-fp" 0x00 || SEK), computed by
 * lib/gem_dp.c): a one-way value by which a reload of a key id tells the same
 * SEK (window kept) from another one (refused).  A slot's replay window
 * lives as long as its key id does. */
#define GEM_SEK_FP_LEN		16
struct gem_rx_stream {
	struct bpf_spin_lock lock;
	__u32 cur;
	__u32 key_id[2];
	__u32 loading;		/* a key load is under way (gem_ctl): others get EBUSY */
	__u8 sek_fp[2][GEM_SEK_FP_LEN];
	struct gem_replay replay[2];
	__u64 packets;
	__u64 bytes;
	__u64 drops;
#ifdef __BPF__
	struct bpf_crypto_ctx __kptr *ctx0;
	struct bpf_crypto_ctx __kptr *ctx1;
	struct gem_chacha_key __kptr *ck0;	/* suite 4 keys of slots 0, 1 */
	struct gem_chacha_key __kptr *ck1;
#else
	__u64 ctx0, ctx1, ck0, ck1;
#endif
};

/* gem_ifaces: ifindex -> what gem-load attached there (programs do not use
 * it; it is the node's record of attachments, read by `gem-load status`). */
#define GEM_XDP_NATIVE		1
#define GEM_XDP_GENERIC		2
#define GEM_IF_F_OWN_CLSACT	1	/* gem-load created the clsact qdisc */
#define GEM_IF_F_LAN		2	/* role lan: gem_lan_egress only, no XDP */
struct gem_iface {
	__u32 xdp_mode;
	__u32 flags;
	__u32 xdp_prog_id;
	__u32 tc_prog_id;
	char name[16];
};

/* gem_stamp (array, one entry): which GEM pinned the objects.  gem-load
 * writes it when it loads the data plane; gem-load, gemctl and gemd compare
 * it with their own build before using the pins (lib/gem_pin.c).  layout is
 * a fingerprint of this header (the Makefile hashes it with the comments
 * stripped): another layout means the maps' key/value structs may differ.
 * This struct itself never changes, so any GEM can read any GEM's stamp. */
#define GEM_STAMP_MAGIC		0x474d5354u	/* "GMST" */
#define GEM_STAMP_VERSION_LEN	56
struct gem_stamp {
	__u32 magic;
	__u32 layout;
	char version[GEM_STAMP_VERSION_LEN];	/* git describe, NUL-terminated */
};

/* Ring-buffer event: a protected group saw a stream with no SEK. */
#define GEM_EV_TX_NO_KEY	1
struct gem_event {
	__u32 type;
	__u32 ifindex;
	struct gem_sg sg;
};

/* Per-CPU counters, index = enum gem_counter. */
enum gem_counter {
	GEM_C_TX_SEALED,	/* egress: sealed and sent */
	GEM_C_TX_PASS,		/* egress: not for a protected group, untouched */
	GEM_C_TX_NO_KEY,	/* egress: protected group, no SEK for (S,G) */
	GEM_C_TX_NOT_UDP,	/* egress: protected group, not UDP (IGMP/ICMPv6 pass) */
	GEM_C_TX_FRAGMENT,	/* egress: protected group, IP fragment */
	GEM_C_TX_MALFORMED,	/* egress: lengths inconsistent, more than two VLAN tags */
	GEM_C_TX_TOO_BIG,	/* egress: payload > GEM_MAX_PT */
	GEM_C_TX_MTU,		/* egress: sealed packet exceeds device MTU */
	GEM_C_TX_GSO,		/* egress: GSO packet (UDP GSO is not sealed) */
	GEM_C_TX_PN_EXHAUSTED,	/* egress: packet number limit reached */
	GEM_C_TX_ERROR,		/* egress: helper/kfunc failure */
	GEM_C_RX_OPENED,	/* ingress: verified, decrypted, passed */
	GEM_C_RX_PASS,		/* ingress: not for a protected group, untouched */
	GEM_C_RX_MALFORMED,	/* ingress: lengths inconsistent / too short, > 2 VLAN tags */
	GEM_C_RX_NOT_UDP,	/* ingress: protected group, not UDP */
	GEM_C_RX_FRAGMENT,	/* ingress: protected group, IP fragment */
	GEM_C_RX_TOO_BIG,	/* ingress: payload > GEM_MAX_PT + overhead */
	GEM_C_RX_VERSION,	/* ingress: unknown GEM version */
	GEM_C_RX_SUITE,		/* ingress: suite differs from the group's */
	GEM_C_RX_NO_KEY,	/* ingress: no SEK for (S,G) */
	GEM_C_RX_KEY_ID,	/* ingress: key id is neither current nor previous */
	GEM_C_RX_PN_LIMIT,	/* ingress: packet number >= GEM_PN_LIMIT (no sender seals it) */
	GEM_C_RX_BAD_TAG,	/* ingress: MAC verification failed (under every key held) */
	GEM_C_RX_MAC_PREV,	/* ingress: opened, its tag verified under the non-tx group key */
	GEM_C_RX_REPLAY,	/* ingress: packet number already seen */
	GEM_C_RX_TOO_OLD,	/* ingress: packet number below the window */
	GEM_C_RX_ERROR,		/* ingress: helper/kfunc failure */
	GEM_C_RX_TRANSIT,	/* ingress: transit group, GEM-shaped: passed sealed */
	GEM_C_TX_TRANSIT,	/* egress: transit group, GEM-shaped: relayed sealed */
	GEM_C_TX_TRANSIT_CLEAR,	/* egress: transit group, not GEM-shaped: dropped */
	GEM_C_LAN_SEALED_DROP,	/* LAN egress: transit group packet: dropped */
	GEM_C_LAN_PASS,		/* LAN egress: keyed group (plaintext): passed */
	GEM_C_MAX,
};

/* ---- key loading: SEC("syscall") program gem_ctl ----------------------- */

enum gem_ctl_op {
	GEM_OP_SET_GROUP = 1,	/* upsert group policy (+ CMAC context) */
	GEM_OP_SET_TX_SEK = 2,	/* install a SEK for egress, make it current */
	GEM_OP_SET_RX_SEK = 3,	/* install a SEK for ingress; the two newest key ids kept */
	GEM_OP_SUITES = 4,	/* returns the suites loadable here (bit s: suite s) */
	GEM_OP_DEL_TX = 5,	/* forget an egress stream: its SEKs, its entry */
	GEM_OP_DEL_RX_SEK = 6,	/* unload one key id for ingress; the entry goes with its last */
	GEM_OP_DEL_GROUP = 7,	/* forget a group policy (sg.grp); -ENOENT if none */
	GEM_OP_GROUP_KEY = 8,	/* load a group MAC key of epoch `epoch` into the non-tx slot */
	GEM_OP_GROUP_USE = 9,	/* make the slot of epoch `epoch` the tx slot */
	GEM_OP_GROUP_RETIRE = 10, /* drop the (non-tx) slot of epoch `epoch` */
};

/* sek_flags of GEM_OP_SET_RX_SEK: the key id is held with another SEK:
 * replace that SEK and keep the slot's replay window (the control plane, for
 * an origin that re-keyed a key id after losing its data plane: its new
 * packet numbers start above the old ones, GEM_PN_CLOCK_MIN).  Without it
 * that load fails with EEXIST and changes nothing. */
#define GEM_CTL_F_REPLACE	1

/* ctx_in of gem_ctl.  Holds key bytes: user space mlocks and wipes it.
 * The program returns 0 or -errno. */
struct gem_ctl_req {
	__u32 op;
	__u32 key_id;
	struct gem_sg sg;
	__u8 sek[GEM_SEK_MAX_LEN];	/* SEK ops: sek_len bytes */
	__u32 sek_len;		/* 16: AES-128 (suites 1-3), 32: ChaCha20 (suite 4) */
	__u32 suite;
	__u32 flags;
	__u32 hmac_istate[8];
	__u32 hmac_ostate[8];
	__u8 cmac_k1[16];
	__u8 cmac_k2[16];
	__u8 cmac_key[16];
	__u8 sek_fp[GEM_SEK_FP_LEN];	/* SEK ops: fingerprint of sek (see gem_rx_stream) */
	__u64 first_pn;		/* SET_TX_SEK: first pn of a new entry (the clock, ns) */
	__u32 sek_flags;	/* SET_RX_SEK: GEM_CTL_F_* */
	__u32 epoch;		/* group ops: GAK epoch of the MAC key */
};


#endif /* GEM_COMMON_H */
