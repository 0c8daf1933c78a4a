// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: the key-file reader (SEK and GAK/BK files) on arbitrary
 * file contents: exactly the expected size of nonzero bytes, else an error. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sodium.h>

#include "keys/gem_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t lens[] = { 16, 32 };
	uint8_t key[32];
	char path[64];
	int fd;

	if (sodium_init() < 0)
		abort();
	fd = memfd_create("gem-fuzz-key", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < 2; i++) {
		int r = gem_keys_read_key_file(path, key, lens[i]);

		if (r == 0 && (size != lens[i] || memcmp(key, data, size) || sodium_is_zero(key, size)))
			abort();
		if (r != 0 && size == lens[i] && !sodium_is_zero(data, size))
			abort();
	}
	close(fd);
	return 0;
}
