/* gateway/identity.h: who a request is, once its session is known: what the policy checks and the proxy passes on. */
#ifndef UK_GW_IDENTITY_H
#define UK_GW_IDENTITY_H

#include <stdint.h>

#define GW_LOGIN_MAX 64 /* login names, unit ids (bytes) */
#define GW_NAME_MAX 128 /* people's and units' names (bytes, UTF-8) */
#define GW_ROLES_MAX 64 /* a space-separated role list */

/* Kinds of principal. */
#define GW_KIND_OPERATOR "operator"
#define GW_KIND_STAFF "staff"

/* A logged-in principal as the policy and the proxy see it. Plain data,
 * NUL-terminated strings, no ownership. */
struct gw_identity {
	char kind[10]; /* GW_KIND_OPERATOR | GW_KIND_STAFF */
	int64_t principal_id;
	char unit[GW_LOGIN_MAX + 1]; /* unit id; "" for staff */
	char login[GW_LOGIN_MAX + 1];
	char name[GW_NAME_MAX + 1];
	char roles[GW_ROLES_MAX + 1]; /* "maker checker", "counter", ... */
	char method[10];              /* "cert" | "password" | "scan" */
	char scope[8];                /* "full" | "query" */
	int unit_authorised;          /* the unit did the hall authorisation */
	int64_t cert_sig_at; /* UTC second of the last certificate signature
	                        seen in this session; 0 if none */
	char request_id[33];
};

#endif
