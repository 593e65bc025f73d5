/* tests/fuzz/fuzz_validate.c: fuzz target for the registration checks (USCC, resident ID, login, phone, roles) and the password policy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "gateway/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char roles[GW_ROLES_MAX + 1];
	struct secret *pw;
	char *s;

	if (size > 4096)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)gw_uscc_valid(s);
	(void)gw_resident_id_valid(s);
	(void)gw_login_valid(s);
	(void)gw_phone_valid(s);
	(void)gw_roles_valid(s, 0);
	(void)gw_roles_valid(s, 1);
	if (gw_roles_normalise(s, 0, roles) == 0 &&
	    gw_roles_valid(roles, 0) != 0)
		abort(); /* a normalised list must stay valid */
	if ((pw = secret_from(data, size)) != NULL) {
		(void)gw_password_policy(pw, s, s);
		(void)gw_password_policy(pw, "op1", NULL);
		secret_free(pw);
	}
	free(s);
	return 0;
}
