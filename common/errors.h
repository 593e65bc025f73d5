/* common/errors.h: the one error catalogue; codes are stable and never renumbered. */
#ifndef UK_ERRORS_H
#define UK_ERRORS_H

/*
 * Every function that can fail returns 0 or one of these codes. The numeric
 * value is the public code: UK_ERR_CSR_MALFORMED is shown as "UK-3001".
 * Ranges: 1xxx system, config, store; 2xxx token; 3xxx certificate and CA;
 * 4xxx login; 5xxx policy. A code once published is never reused for another
 * meaning; retired codes stay in the table marked as such.
 */
enum uk_err {
	UK_OK = 0,

	/* 1xxx: system */
	UK_ERR_INTERNAL = 1001,
	UK_ERR_NOMEM = 1002,
	UK_ERR_IO = 1003,
	UK_ERR_USAGE = 1004,
	UK_ERR_LIMIT = 1005,
	UK_ERR_INPUT = 1006,
	UK_ERR_NOT_FOUND = 1007,
	UK_ERR_EXISTS = 1008,
	UK_ERR_CANCELLED = 1009,
	UK_ERR_TIMEOUT = 1010,

	/* 11xx: configuration */
	UK_ERR_CONFIG_SYNTAX = 1101,
	UK_ERR_CONFIG_UNKNOWN = 1102,
	UK_ERR_CONFIG_VALUE = 1103,
	UK_ERR_CONFIG_MISSING = 1104,

	/* 12xx: store */
	UK_ERR_STORE_URL = 1201,
	UK_ERR_STORE_OPEN = 1202,
	UK_ERR_STORE_QUERY = 1203,
	UK_ERR_STORE_BUSY = 1204,
	UK_ERR_STORE_SCHEMA = 1205,
	UK_ERR_STORE_CONFLICT = 1206,
	UK_ERR_STORE_AUDIT_CHAIN = 1207,

	/* 13xx: data formats */
	UK_ERR_JSON = 1301,
	UK_ERR_BASE64 = 1302,

	/* 14xx: secrets */
	UK_ERR_SECRET_READ = 1401,
	UK_ERR_SECRET_EMPTY = 1402,

	/* 15xx: HTTP requests */
	UK_ERR_BAD_PATH = 1501,
	UK_ERR_BAD_COOKIE = 1502,
	UK_ERR_BAD_HEADER = 1503,
	UK_ERR_BODY_TOO_LARGE = 1504,
	UK_ERR_NOT_JSON = 1505,
	UK_ERR_METHOD = 1506,
	UK_ERR_NO_ROUTE = 1507,
	UK_ERR_STOPPING = 1508, /* the gateway is stopping */

	/* 2xxx: token (UKey) */
	UK_ERR_TOKEN_MODULE = 2001,
	UK_ERR_TOKEN_NOT_PRESENT = 2002,
	UK_ERR_TOKEN_PIN_INCORRECT = 2003,
	UK_ERR_TOKEN_PIN_LOCKED = 2004,
	UK_ERR_TOKEN_REMOVED = 2005,
	UK_ERR_TOKEN_KEY_NOT_FOUND = 2006,
	UK_ERR_TOKEN_SIGN = 2007,
	UK_ERR_TOKEN_MODULE_NOT_ALLOWED = 2008,
	UK_ERR_TOKEN_PIN_FORMAT = 2009,
	UK_ERR_TOKEN_DEVICE = 2010,
	UK_ERR_TOKEN_BUSY = 2011,
	UK_ERR_TOKEN_PIN_ENTRY = 2012,
	UK_ERR_TOKEN_PIN_TO_BE_CHANGED = 2013,

	/* 30xx: certificate intake and the CA */
	UK_ERR_CSR_MALFORMED = 3001,
	UK_ERR_CSR_SIGNATURE = 3002,
	UK_ERR_CSR_KEY = 3003,
	UK_ERR_CERT_MALFORMED = 3004,
	UK_ERR_CRL_MALFORMED = 3005,
	UK_ERR_OCSP_REQUEST = 3006,
	UK_ERR_CSR_REQUEST = 3007,
	UK_ERR_UNIT_CERT_LIMIT = 3010,
	UK_ERR_CERT_NOT_FOUND = 3011,
	UK_ERR_CERT_ALREADY_REVOKED = 3012,
	UK_ERR_CA_NOT_INITIALISED = 3013,
	UK_ERR_CA_EXISTS = 3014,
	UK_ERR_CA_KEY = 3015,
	UK_ERR_CA_PROFILE = 3016,
	UK_ERR_CA_REASON = 3017,
	UK_ERR_CA_KEY_TYPE = 3018,

	/* 31xx: certificate verification */
	UK_ERR_CERT_UNTRUSTED = 3100,
	UK_ERR_CERT_EXPIRED = 3101,
	UK_ERR_CERT_NOT_YET_VALID = 3102,
	UK_ERR_CERT_REVOKED = 3103,
	UK_ERR_CERT_PURPOSE = 3104,
	UK_ERR_CERT_LEAF = 3105,
	UK_ERR_CERT_REVOCATION_UNKNOWN = 3106,
	UK_ERR_CERT_SIGNATURE = 3107,
	UK_ERR_CERT_POLICY = 3108,
	UK_ERR_CERT_NAME_CONSTRAINTS = 3109,
	UK_ERR_CERT_CHAIN = 3110,
	UK_ERR_SIGNATURE_INVALID = 3111,
	UK_ERR_CERT_UNKNOWN_OPERATOR = 3112,

	/* 4xxx: login */
	UK_ERR_LOGIN_PASSWORD = 4101,
	UK_ERR_LOGIN_UNKNOWN_USER = 4102,
	UK_ERR_LOGIN_FROZEN = 4103,
	UK_ERR_LOGIN_RATE = 4104,
	UK_ERR_LOGIN_OPERATOR_LEFT = 4105,
	UK_ERR_LOGIN_NO_PASSWORD = 4106,
	UK_ERR_LOGIN_DISABLED = 4107,
	UK_ERR_PASSWORD_POLICY = 4110,
	UK_ERR_PASSWORD_MUST_CHANGE = 4111,
	UK_ERR_LOGIN_SCAN_FAILED = 4201,
	UK_ERR_SCAN_NOT_OPERATOR = 4202,   /* openid bound to no operator */
	UK_ERR_SCAN_OPERATOR_LEFT = 4203,  /* the bound operator left */
	UK_ERR_SCAN_NO_AGREEMENT = 4204,   /* the unit signed no agreement */
	UK_ERR_SCAN_WRONG_SITE = 4205,     /* phone: ticket not of this site */
	UK_ERR_SCAN_TICKET_UNKNOWN = 4206, /* browser: unknown or foreign */
	UK_ERR_SCAN_EXPIRED = 4207,
	UK_ERR_SCAN_STATE = 4208, /* not in the state the step needs */
	UK_ERR_SCAN_SLOW_DOWN = 4209,
	UK_ERR_SCAN_OAUTH_STATE = 4210, /* forged, used or expired state */
	UK_ERR_WECHAT_CODE = 4211,      /* invalid, used or expired code */
	UK_ERR_WECHAT_UNAVAILABLE = 4212,
	UK_ERR_SCAN_CANCELLED = 4213,
	UK_ERR_SCAN_OPENID_TAKEN = 4214, /* bind: openid bound to another */
	UK_ERR_LOGIN_SIGN_COMPONENT = 4301,
	UK_ERR_LOGIN_SIGN_CANCELLED = 4302,
	UK_ERR_LOGIN_CERT_INFO = 4303,
	UK_ERR_CHALLENGE_UNKNOWN = 4001, /* expired, used, or never issued */
	UK_ERR_CHALLENGE_BROWSER = 4002, /* the nonce of another browser */
	UK_ERR_AUTH_TOKEN_MALFORMED = 4003,
	UK_ERR_AUTH_TOKEN_ORIGIN = 4004, /* signed for another origin */
	UK_ERR_CERT_UNBOUND = 4005,      /* bound to no operator */
	UK_ERR_SESSION_NONE = 4401,
	UK_ERR_SESSION_EXPIRED = 4402,
	UK_ERR_SESSION_REVOKED = 4403,
	UK_ERR_CSRF = 4404,
	UK_ERR_JWT_INVALID = 4405,
	UK_ERR_RESET_CODE_WRONG = 4501,     /* public for every code failure */
	UK_ERR_RESET_CODE_EXPIRED = 4502,   /* internal */
	UK_ERR_RESET_CODE_USED = 4503,      /* internal: used or superseded */
	UK_ERR_RESET_CODE_EXHAUSTED = 4504, /* internal: 5 checks made */
	UK_ERR_RESET_NO_CODE = 4505,        /* internal: none requested */
	UK_ERR_RESET_TOKEN = 4506,          /* unknown, used or expired token */
	UK_ERR_RESET_RATE = 4507,           /* per-IP / per-login limit */
	UK_ERR_RESET_PHONE_LIMIT = 4508,    /* internal: 1/min 5/h 10/day */
	UK_ERR_RESET_NO_PHONE = 4509,       /* internal: no phone bound */
	UK_ERR_RESET_UNKNOWN_USER = 4510,   /* internal: no such operator */
	UK_ERR_RESET_INACTIVE = 4511,       /* internal: left or disabled */
	UK_ERR_SMS_TEMPORARY = 4520,        /* provider down: retried */
	UK_ERR_SMS_REJECTED = 4521,         /* provider refused: not retried */
	UK_ERR_ADMIN_UNIT_UNKNOWN = 4601,
	UK_ERR_ADMIN_OPERATOR_UNKNOWN = 4602,
	UK_ERR_ADMIN_LOGIN_TAKEN = 4603,
	UK_ERR_ADMIN_FORM_REQUIRED = 4604,
	UK_ERR_ADMIN_INVALID = 4605,
	UK_ERR_ADMIN_STAFF_UNKNOWN = 4606,
	UK_ERR_ADMIN_BINDING = 4607,
	UK_ERR_ADMIN_OPERATOR_LEFT = 4608,
	UK_ERR_COUNTER_DISABLED = 4609, /* [counter] certificate acts off */
	UK_ERR_ADMIN_OPERATOR_DISABLED = 4610,
	UK_ERR_ADMIN_UNIT_CLOSED = 4611,

	/* 5xxx: policy */
	UK_ERR_POLICY_DENIED = 5001,
	UK_ERR_POLICY_HALL_UNAUTHORISED = 5002,
	UK_ERR_POLICY_AGREEMENT = 5003,
	UK_ERR_POLICY_EMPLOYEE_PHONE = 5004,
	UK_ERR_POLICY_SCOPE = 5005,
	UK_ERR_POLICY_ROLE = 5006,
	UK_ERR_POLICY_STEP_UP = 5007,
	UK_ERR_POLICY_STAFF_ONLY = 5008,
	UK_ERR_UPSTREAM_DOWN = 5101,
	UK_ERR_UPSTREAM_TIMEOUT = 5102,
};

/* One catalogue entry. Strings are static UTF-8. */
struct uk_error_info {
	int code;
	const char *id;   /* "UK-3001" */
	const char *name; /* stable symbolic name, e.g. "CSR_MALFORMED" */
	int http_status;  /* what an HTTP API answers with this error */
	const char *zh;   /* zh-CN text shown to people */
	const char *en;   /* English text */
	const char
	    *seed; /* the message operators know from today's halls, or NULL */
	const char *remedy_zh; /* what to do about it */
	const char *remedy_en;
};

/* Returns the catalogue entry for code, or the UK_ERR_INTERNAL entry when the
 * code is unknown. Never NULL. */
const struct uk_error_info *uk_error_info(int code);

/* Returns "UK-3001" style text for code; never NULL. */
const char *uk_error_id(int code);

/* Returns the English text for code; never NULL. */
const char *uk_strerror(int code);

/* The whole table, for tests and documentation: sets *n, returns the first entry. */
const struct uk_error_info *uk_error_table(unsigned *n);

#endif
