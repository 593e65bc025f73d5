/* common/errors.c: the error catalogue: codes, zh-CN/en texts, seed messages, remedies, HTTP status. */
#include <stddef.h>

#include "common/errors.h"

#define E(num, sym, http, zh, en, seed, rzh, ren)                              \
	{                                                                      \
		UK_ERR_##sym, "UK-" #num, #sym, http, zh, en, seed, rzh, ren   \
	}

/* Keep sorted by code; tests/unit/common/test_errors.c checks order,
 * completeness and that each id matches its number. */
static const struct uk_error_info table[] = {
	/* 1xxx: system */
	E(1001, INTERNAL, 500, "系统内部错误", "Internal error", NULL,
	    "请记下事件编号并联系服务热线",
	    "Note the event number and contact the helpdesk"),
	E(1002, NOMEM, 503, "系统资源不足", "Out of memory", NULL,
	    "请稍后重试；如持续出现请联系系统管理员",
	    "Try again later; if it persists, tell the system administrator"),
	E(1003, IO, 500, "读写文件失败", "File or device I/O failed", NULL,
	    "检查磁盘空间和文件权限后重试",
	    "Check disk space and file permissions, then retry"),
	E(1004, USAGE, 400, "命令或参数用法错误",
	    "Wrong command or option usage", NULL, "使用 --help 查看正确用法",
	    "See --help for the correct usage"),
	E(1005, LIMIT, 413, "输入超过允许的长度",
	    "Input exceeds the size limit", NULL, "缩短输入后重试",
	    "Shorten the input and retry"),
	E(1006, INPUT, 400, "输入格式不正确", "Malformed input", NULL,
	    "检查输入内容后重试", "Check the input and retry"),
	E(1007, NOT_FOUND, 404, "未找到请求的对象", "Not found", NULL,
	    "检查名称或编号是否正确", "Check the name or number"),
	E(1008, EXISTS, 409, "对象已存在", "Already exists", NULL,
	    "使用已有对象，或换一个名称",
	    "Use the existing object or choose another name"),
	E(1009, CANCELLED, 400, "操作已取消", "Operation cancelled", NULL,
	    "如需继续，请重新操作", "Start again to continue"),
	E(1010, TIMEOUT, 504, "操作超时", "Operation timed out", NULL,
	    "请稍后重试", "Try again later"),

	/* 11xx: configuration */
	E(1101, CONFIG_SYNTAX, 500, "配置文件格式错误",
	    "Configuration syntax error", NULL, "按错误提示的行号修改配置文件",
	    "Fix the configuration file at the line named in the message"),
	E(1102, CONFIG_UNKNOWN, 500, "配置文件含有未知的配置项",
	    "Unknown configuration section or key", NULL,
	    "删除或更正该配置项（参见示例配置 etc/）",
	    "Remove or correct the key (see the examples in etc/)"),
	E(1103, CONFIG_VALUE, 500, "配置项的取值无效",
	    "Invalid configuration value", NULL, "按说明更正该配置项的取值",
	    "Correct the value as the message says"),
	E(1104, CONFIG_MISSING, 500, "缺少必需的配置项",
	    "Required configuration key missing", NULL,
	    "在配置文件中补充该配置项", "Add the key to the configuration"),

	/* 12xx: store */
	E(1201, STORE_URL, 500, "数据库地址格式错误",
	    "Malformed database URL or path", NULL,
	    "使用文件路径或 postgresql://用户@主机:端口/库名",
	    "Use a file path or postgresql://user@host:port/dbname"),
	E(1202, STORE_OPEN, 503, "无法连接数据库", "Cannot open the database",
	    NULL, "检查数据库文件权限或数据库服务是否运行",
	    "Check the database file's permissions or that the database server "
	    "runs"),
	E(1203, STORE_QUERY, 500, "数据库操作失败", "Database operation failed",
	    NULL, "请记下事件编号并联系系统管理员",
	    "Note the event number and tell the system administrator"),
	E(1204, STORE_BUSY, 503, "数据库繁忙", "Database busy", NULL,
	    "请稍后重试", "Try again later"),
	E(1205, STORE_SCHEMA, 500, "数据库结构版本不符",
	    "Database schema is newer than this program", NULL,
	    "升级程序到与数据库一致的版本",
	    "Upgrade the program to the version that wrote the database"),
	E(1206, STORE_CONFLICT, 409, "数据已被其他操作修改",
	    "Concurrent change conflict", NULL, "请重试一次", "Retry once"),
	E(1207, STORE_AUDIT_CHAIN, 500, "审计记录的哈希链被破坏",
	    "The audit trail's hash chain is broken", NULL,
	    "保留数据库现状并立即报告安全负责人",
	    "Keep the database as it is and report to the security officer at "
	    "once"),

	/* 13xx: data formats */
	E(1301, JSON, 400, "请求内容不是有效的 JSON", "Malformed JSON", NULL,
	    "检查请求内容", "Check the request body"),
	E(1302, BASE64, 400, "Base64 编码无效", "Malformed base64", NULL,
	    "检查编码内容", "Check the encoded value"),

	/* 14xx: secrets */
	E(1401, SECRET_READ, 400, "无法读取口令",
	    "Cannot read the passphrase or PIN", NULL,
	    "通过 --pass-fd/--pin-fd 或终端输入口令",
	    "Give it on --pass-fd/--pin-fd or type it at a terminal"),
	E(1402, SECRET_EMPTY, 400, "口令不能为空", "Empty passphrase or PIN",
	    NULL, "输入非空口令", "Enter a non-empty passphrase or PIN"),

	/* 2xxx: token */
	E(2001, TOKEN_MODULE, 503, "无法加载UKey驱动模块",
	    "Cannot load the UKey's PKCS#11 module",
	    "签名失败，请确认签名控件，根证书已被导入",
	    "重新安装UKey驱动，然后运行 ukey-agent doctor 检查",
	    "Reinstall the UKey driver, then run ukey-agent doctor"),
	E(2002, TOKEN_NOT_PRESENT, 409, "未检测到UKey", "No UKey present",
	    "签名失败，或者您已经取消签名",
	    "重新插入UKey；如仍无法识别，重新安装UKey驱动后运行 ukey-agent "
	    "doctor",
	    "Re-insert the UKey; if it is still not seen, reinstall its driver "
	    "and run ukey-agent doctor"),
	E(2003, TOKEN_PIN_INCORRECT, 401, "PIN码错误", "Wrong PIN", NULL,
	    "核对PIN码后重试；连续输错6次UKey将被锁定",
	    "Check the PIN and retry; six wrong PINs in a row lock the UKey"),
	E(2004, TOKEN_PIN_LOCKED, 423, "PIN码已锁定，UKey无法使用",
	    "PIN locked; the UKey cannot be used", NULL,
	    "持《网上业务用户变更申请表》到缴存银行柜面解锁或换发证书",
	    "Take the user change application form to the bank counter to "
	    "unblock the key or reissue the certificate"),
	E(2005, TOKEN_REMOVED, 409, "操作过程中UKey被拔出",
	    "The UKey was removed during the operation",
	    "签名失败，或者您已经取消签名", "插回UKey后重试",
	    "Re-insert the UKey and retry"),
	E(2006, TOKEN_KEY_NOT_FOUND, 404, "UKey中没有可用的证书或私钥",
	    "No usable certificate or key on the UKey", "证书非法或者不存在",
	    "选择正确的证书；如证书缺失，到缴存银行柜面换发",
	    "Choose the right certificate; if it is missing, have it reissued "
	    "at the bank counter"),
	E(2007, TOKEN_SIGN, 502, "UKey签名失败", "The UKey failed to sign",
	    "签名失败，请确认签名控件，根证书已被导入",
	    "重新插入UKey后重试；仍失败请运行 ukey-agent doctor",
	    "Re-insert the UKey and retry; if it fails again run ukey-agent "
	    "doctor"),
	E(2008, TOKEN_MODULE_NOT_ALLOWED, 403, "UKey驱动模块不在允许列表中",
	    "PKCS#11 module not on the allowlist", NULL,
	    "在配置 module_allowlist 中加入该驱动的路径",
	    "Add the module's path to module_allowlist"),
	E(2009, TOKEN_PIN_FORMAT, 400, "PIN码格式不正确", "Malformed PIN", NULL,
	    "PIN码为4至64个字符", "A PIN has 4 to 64 characters"),
	E(2010, TOKEN_DEVICE, 502, "UKey操作失败",
	    "The UKey refused or failed the operation",
	    "签名失败，或者您已经取消签名",
	    "重新插入UKey后重试；仍失败请运行 ukey-agent doctor",
	    "Re-insert the UKey and retry; if it fails again run ukey-agent "
	    "doctor"),
	E(2011, TOKEN_BUSY, 409, "UKey正在处理另一项操作",
	    "The UKey is busy with another operation", NULL,
	    "等当前操作（例如PIN码输入框）结束后重试",
	    "Wait until the current operation (e.g. the PIN dialog) ends, then "
	    "retry"),
	E(2012, TOKEN_PIN_ENTRY, 503, "无法显示PIN码输入框",
	    "The PIN dialog cannot be shown",
	    "签名失败，请确认签名控件/根证书已经被导入浏览器",
	    "安装 pinentry 程序或更正配置中的 pinentry 路径，然后运行 "
	    "ukey-agent doctor",
	    "Install a pinentry program or correct the pinentry path in the "
	    "configuration, then run ukey-agent doctor"),
	E(2013, TOKEN_PIN_TO_BE_CHANGED, 403, "UKey要求先修改PIN码",
	    "The UKey requires a new PIN first", NULL,
	    "运行 ukey-agent change-pin 修改PIN码后重试",
	    "Change the PIN with ukey-agent change-pin, then retry"),

	/* 30xx: certificate intake and CA */
	E(3001, CSR_MALFORMED, 400, "证书请求格式错误",
	    "Malformed certificate signing request", NULL,
	    "重新生成证书请求（PEM 或 DER 格式）",
	    "Generate the request again (PEM or DER)"),
	E(3002, CSR_SIGNATURE, 400, "证书请求签名无效",
	    "The request's signature does not verify", NULL,
	    "在UKey上重新生成证书请求",
	    "Generate the request again on the UKey"),
	E(3003, CSR_KEY, 400, "证书请求的密钥类型或长度不被接受",
	    "Key type or size not accepted", NULL,
	    "使用 EC P-256、SM2 或 2048 位以上的 RSA 密钥",
	    "Use EC P-256, SM2 or RSA of 2048 bits or more"),
	E(3004, CERT_MALFORMED, 400, "证书格式错误", "Malformed certificate",
	    "证书非法或者不存在", "检查证书文件是否完整",
	    "Check that the certificate file is complete"),
	E(3005, CRL_MALFORMED, 400, "证书吊销列表格式错误", "Malformed CRL",
	    NULL, "重新下载证书吊销列表", "Download the CRL again"),
	E(3006, OCSP_REQUEST, 400, "OCSP 请求格式错误",
	    "Malformed OCSP request", NULL, "检查 OCSP 客户端",
	    "Check the OCSP client"),
	E(3007, CSR_REQUEST, 400, "证书请求要求的扩展不被允许",
	    "The request asks for extensions the profile does not allow", NULL,
	    "使用操作员证书模板重新生成证书请求",
	    "Generate the request again without CA or unexpected extensions"),
	E(3010, UNIT_CERT_LIMIT, 409, "该单位已有两张有效证书",
	    "The unit already has two active certificates", NULL,
	    "先吊销一张旧证书，或使用证书换发",
	    "Revoke an old certificate first, or reissue one"),
	E(3011, CERT_NOT_FOUND, 404, "未找到该证书",
	    "No certificate with that serial", "证书非法或者不存在",
	    "核对证书序列号", "Check the certificate serial number"),
	E(3012, CERT_ALREADY_REVOKED, 409, "证书已吊销",
	    "The certificate is already revoked", NULL,
	    "无需再次吊销；如需新证书请办理签发",
	    "Nothing to do; issue a new certificate if one is needed"),
	E(3013, CA_NOT_INITIALISED, 500, "证书机构尚未初始化",
	    "The CA has not been initialised", NULL, "先运行 ukey-ca init",
	    "Run ukey-ca init first"),
	E(3014, CA_EXISTS, 409, "证书机构已初始化",
	    "The CA is already initialised", NULL,
	    "使用已有的证书机构，或换一个数据库",
	    "Use the existing CA or another database"),
	E(3015, CA_KEY, 500, "无法使用证书机构私钥",
	    "Cannot use the CA key (wrong passphrase or PIN, or key missing)",
	    NULL, "核对口令和密钥文件或令牌",
	    "Check the passphrase and the key file or token"),
	E(3016, CA_PROFILE, 400, "证书模板无效", "Unknown certificate profile",
	    NULL, "使用 operator、staff 或 ocsp",
	    "Use operator, staff or ocsp"),
	E(3017, CA_REASON, 400, "吊销原因无效", "Unknown revocation reason",
	    NULL,
	    "使用 keyCompromise、superseded、cessationOfOperation 等 RFC 5280 "
	    "原因",
	    "Use an RFC 5280 reason such as keyCompromise, superseded, "
	    "cessationOfOperation"),
	E(3018, CA_KEY_TYPE, 400, "密钥类型不支持", "Unsupported key type",
	    NULL, "使用 ec、rsa 或 sm2", "Use ec, rsa or sm2"),

	/* 31xx: verification */
	E(3100, CERT_UNTRUSTED, 401, "证书不是由受信任的机构签发",
	    "The certificate does not chain to a trusted CA",
	    "签名失败，请确认签名控件，根证书已被导入",
	    "使用本中心或认可机构签发的证书；如证书正确请联系服务热线",
	    "Use a certificate from the centre's or an accepted CA; if it is "
	    "right, call the helpdesk"),
	E(3101, CERT_EXPIRED, 401, "证书已过期", "The certificate has expired",
	    "证书非法或者不存在",
	    "持《网上业务用户变更申请表》到缴存银行柜面换发证书",
	    "Have the certificate reissued at the bank counter with the user "
	    "change application form"),
	E(3102, CERT_NOT_YET_VALID, 401, "证书尚未生效",
	    "The certificate is not yet valid", "证书非法或者不存在",
	    "检查电脑时间是否正确", "Check the computer's clock"),
	E(3103, CERT_REVOKED, 401, "证书已被吊销",
	    "The certificate has been revoked", "证书非法或者不存在",
	    "使用新证书；如无新证书请到缴存银行柜面办理",
	    "Use the new certificate; if there is none, go to the bank "
	    "counter"),
	E(3104, CERT_PURPOSE, 401, "证书用途不符",
	    "The certificate is not for login", "错误代码：证书信息获取出错",
	    "选择用于登录的证书", "Choose the login certificate"),
	E(3105, CERT_LEAF, 401, "证书不符合规范",
	    "The certificate breaks the end-entity rules (version, CA flag, "
	    "serial, EKU)",
	    "证书非法或者不存在", "到缴存银行柜面换发证书",
	    "Have the certificate reissued at the bank counter"),
	E(3106, CERT_REVOCATION_UNKNOWN, 503, "无法确认证书是否被吊销",
	    "Revocation status unavailable", NULL,
	    "请稍后重试；如持续出现请联系服务热线",
	    "Try again later; if it persists, call the helpdesk"),
	E(3107, CERT_SIGNATURE, 401, "证书签名无效",
	    "A certificate signature in the chain does not verify",
	    "证书非法或者不存在", "到缴存银行柜面换发证书",
	    "Have the certificate reissued at the bank counter"),
	E(3108, CERT_POLICY, 401, "证书策略不符",
	    "Certificate policy check failed", "证书非法或者不存在",
	    "使用符合本中心策略的证书",
	    "Use a certificate that meets the centre's policy"),
	E(3109, CERT_NAME_CONSTRAINTS, 401, "证书名称超出签发机构的约束范围",
	    "Name constraints violated", "证书非法或者不存在",
	    "使用本中心或认可机构签发的证书",
	    "Use a certificate from the centre's or an accepted CA"),
	E(3110, CERT_CHAIN, 401, "证书链无效", "Invalid certificate chain",
	    "证书非法或者不存在", "使用本中心或认可机构签发的证书",
	    "Use a certificate from the centre's or an accepted CA"),
	E(3111, SIGNATURE_INVALID, 401, "登录签名无效",
	    "The login signature does not verify",
	    "签名失败，或者您已经取消签名", "重新插入UKey后再次登录",
	    "Re-insert the UKey and log in again"),
	E(3112, CERT_UNKNOWN_OPERATOR, 401, "该证书未绑定操作员",
	    "The certificate is not bound to an operator",
	    "错误代码：证书信息获取出错",
	    "选择正确的证书；如仍不行到缴存银行柜面办理",
	    "Choose the right certificate; otherwise go to the bank counter"),

	/* 4xxx: login */
	E(4101, LOGIN_PASSWORD, 401, "登录密码错误", "Wrong password",
	    "登录密码错误", "核对密码后重试；连续输错6次当天冻结",
	    "Check the password; six wrong passwords freeze the account for "
	    "the day"),
	E(4102, LOGIN_UNKNOWN_USER, 401, "用户不存在或用户类型错误",
	    "Unknown user or wrong user type", "用户不存在或用户类型错误",
	    "核对登录名；忘记登录名请到缴存银行柜面查询",
	    "Check the login name; the bank counter can look it up"),
	E(4103, LOGIN_FROZEN, 423, "用户已暂时冻结",
	    "The user is frozen for today", "用户已暂时冻结",
	    "明天再试，或通过短信重置密码",
	    "Try again tomorrow, or reset the password by SMS"),
	E(4104, LOGIN_RATE, 429, "尝试过于频繁", "Too many attempts", NULL,
	    "请稍后重试", "Wait and retry"),
	E(4201, LOGIN_SCAN_FAILED, 401, "扫码认证失败", "Scan login failed",
	    "扫码认证失败",
	    "核对网址；确认扫码人是单位登记的经办人；经办人变更请到柜面办理",
	    "Check the site address; the person scanning must be the unit's "
	    "registered operator; change operators at the counter"),
	E(4301, LOGIN_SIGN_COMPONENT, 503, "无法连接本机UKey助手",
	    "Cannot reach the local UKey agent",
	    "签名失败，请确认签名控件/根证书已经被导入浏览器",
	    "启动 ukey-agent，然后运行 ukey-agent doctor",
	    "Start ukey-agent, then run ukey-agent doctor"),
	E(4302, LOGIN_SIGN_CANCELLED, 400, "签名已取消",
	    "Signing was cancelled", "签名失败，或者您已经取消签名",
	    "重新登录并输入PIN码", "Log in again and enter the PIN"),
	E(4303, LOGIN_CERT_INFO, 400, "证书信息获取出错",
	    "Cannot read the certificate", "错误代码：证书信息获取出错",
	    "选择正确的证书；证书过期或损坏请到缴存银行柜面换发",
	    "Choose the right certificate; have an expired or damaged one "
	    "reissued at the bank counter"),

	/* 5xxx: policy */
	E(5001, POLICY_DENIED, 403, "无权访问该功能", "Access denied", NULL,
	    "使用有该权限的账号或证书登录",
	    "Log in with an account or certificate that has the permission"),
	E(5002, POLICY_HALL_UNAUTHORISED, 403,
	    "缴存单位未办理网厅用户授权，不允许办理其他业务",
	    "The unit has not authorised online hall users",
	    "缴存单位未办理网厅用户授权，不允许办理其他业务",
	    "在业务菜单中办理“缴存单位网厅用户授权”",
	    "Complete the online hall user authorisation first"),
	E(5003, POLICY_AGREEMENT, 403, "单位尚未签订网上业务协议",
	    "The unit has not signed the online service agreement", NULL,
	    "到缴存银行柜面签订网上自主协议",
	    "Sign the online service agreement at the bank counter"),
	E(5004, POLICY_EMPLOYEE_PHONE, 409,
	    "单位下存在手机号码为空的缴存职工，请进行维护",
	    "Some employees of the unit have no phone number",
	    "单位下存在手机号码为空的缴存职工，请进行维护",
	    "在缴存人清册中查找手机号码为空的职工并补充手机号",
	    "Find employees without a phone number in the register and add "
	    "one"),
};

const struct uk_error_info *
uk_error_table(unsigned *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct uk_error_info *
uk_error_info(int code)
{
	size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (table[mid].code == code)
			return &table[mid];
		if (table[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &table[0]; /* UK_ERR_INTERNAL */
}

const char *
uk_error_id(int code)
{
	return uk_error_info(code)->id;
}

const char *
uk_strerror(int code)
{
	if (code == UK_OK)
		return "OK";
	return uk_error_info(code)->en;
}
