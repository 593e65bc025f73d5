/* tests/fuzz/fuzz_csr.c: fuzz target for CSR intake (PEM/DER parsing, signature, key policy, extension and subject checks). */
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "certs/csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ca_csr *csr = NULL;
	char err[256];

	if (ca_csr_parse(data, size, 2048, &csr, err, sizeof(err)) == 0) {
		/* What the CA reads from an accepted request. */
		(void)ca_csr_key_type(csr);
		(void)X509_NAME_entry_count(ca_csr_subject(csr));
		(void)EVP_PKEY_get_bits(ca_csr_pubkey(csr));
	}
	ca_csr_free(csr);
	return 0;
}
