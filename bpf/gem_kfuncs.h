/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel functions GEM's BPF programs call.  bpftool 7.1's vmlinux.h has no
 * kfunc prototypes, so they are declared here, as in the kernel's
 * tools/testing/selftests/bpf/progs/crypto_common.h. */
#ifndef GEM_KFUNCS_H
#define GEM_KFUNCS_H

/* The crypto kfuncs (6.10+) are weak: on a kernel without them libbpf
 * leaves them unresolved, every call sits behind gem_have_crypto() (a
 * constant the verifier folds, so the calls are dead code it never checks)
 * and the object loads, offering suite 4 only (GEM_OP_SUITES).
 * GEM_TEST_MISSING_KFUNCS renames them to names no kernel has, so that path
 * is tested on a kernel that does have them (bpf/gem_test_nokf.bpf.c). */
#ifdef GEM_TEST_MISSING_KFUNCS
#define bpf_crypto_ctx_create	gem_missing_crypto_ctx_create
#define bpf_crypto_ctx_release	gem_missing_crypto_ctx_release
#define bpf_crypto_encrypt	gem_missing_crypto_encrypt
#endif
extern struct bpf_crypto_ctx *
bpf_crypto_ctx_create(const struct bpf_crypto_params *params, __u32 params__sz,
		      int *err) __weak __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __weak __ksym;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx,
			      const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst,
			      const struct bpf_dynptr *siv__nullable) __weak __ksym;

/* libbpf 1.2's bpf_ksym_exists(); Debian 12 has libbpf 1.1 */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) ({						\
	_Static_assert(!__builtin_constant_p(!!sym), #sym " must be __weak");	\
	!!sym;								\
})
#endif
#define gem_have_crypto() (bpf_ksym_exists(bpf_crypto_ctx_create) &&	\
			   bpf_ksym_exists(bpf_crypto_ctx_release) &&	\
			   bpf_ksym_exists(bpf_crypto_encrypt))
extern int bpf_dynptr_adjust(const struct bpf_dynptr *p, __u32 start,
			     __u32 end) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Suite 4 uses only these (no kernel crypto): open-coded number iterators
 * (6.4+) and program-allocated objects (6.2+). */
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *kptr, void *meta__ign) __ksym;
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)

#endif
