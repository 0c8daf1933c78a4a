/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel functions GEM's BPF programs call.  bpftool 7.1's vmlinux.h has no
 * kfunc prototypes, so they are declared here, as in the kernel's
 * tools/testing/selftests/bpf/progs/crypto_common.h. */
#ifndef GEM_KFUNCS_H
#define GEM_KFUNCS_H

extern struct bpf_crypto_ctx *
bpf_crypto_ctx_create(const struct bpf_crypto_params *params, __u32 params__sz,
		      int *err) __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx,
			      const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst,
			      const struct bpf_dynptr *siv__nullable) __ksym;
extern int bpf_dynptr_adjust(const struct bpf_dynptr *p, __u32 start,
			     __u32 end) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

#endif
