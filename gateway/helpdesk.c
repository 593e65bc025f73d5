/* gateway/helpdesk.c: the helpdesk console's reads: the plain-word explanation of every login-related code, masking, operator search, an operator's security events and the operator behind an event number. */
#include "gateway/helpdesk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "certs/ca.h"
#include "common/audit.h"
#include "common/errors.h"
#include "common/store.h"
#include "gateway/model.h"

#define X(code, wzh, wen, rzh, ren)                                            \
	{                                                                      \
		code, wzh, wen, rzh, ren                                       \
	}

/*
 * What happened and what to do, for the helpdesk to tell an operator on
 * the telephone. Remedies follow the seed FAQs (000, 001, 003, 004) and
 * REQUIREMENTS.md; NULL: the catalogue's remedy says it. Keep sorted by
 * code (tests/unit/gateway/test_helpdesk.c checks order and coverage).
 */
static const struct gw_hd_explain table[] = {
	/* 2xxx: the UKey, as the login page reports it */
	X(UK_ERR_TOKEN_MODULE, "本机UKey助手无法加载UKey驱动（PKCS#11模块）",
	    "The UKey agent on the PC could not load the UKey driver (PKCS#11 "
	    "module)",
	    "重新安装UKey驱动，然后运行 ukey-agent doctor 检查",
	    "Reinstall the UKey driver, then run ukey-agent doctor"),
	X(UK_ERR_TOKEN_NOT_PRESENT, "电脑上没有检测到UKey",
	    "No UKey was found on the PC",
	    "重新插入UKey或换一个USB口；仍不行则重新安装UKey驱动并运行 "
	    "ukey-agent doctor（代替原“网银小助手”）",
	    "Re-insert the UKey or try another USB port; otherwise reinstall "
	    "the driver and run ukey-agent doctor"),
	X(UK_ERR_TOKEN_PIN_INCORRECT, "输入的UKey PIN码不正确",
	    "The UKey PIN was wrong",
	    "核对PIN码后重试；连续输错6次UKey将被锁定，锁定后须到缴存银行柜面解"
	    "锁"
	    "或换发证书",
	    "Check the PIN; six wrong PINs lock the UKey, which the bank "
	    "counter then unblocks or replaces"),
	X(UK_ERR_TOKEN_PIN_LOCKED,
	    "UKey的PIN码已连续输错6次，UKey已锁定，证书暂时不能使用",
	    "Six wrong PINs in a row: the UKey is locked and its certificate "
	    "cannot be used",
	    "携带UKey和《网上业务用户变更申请表》到缴存银行柜面解锁PIN码；不能"
	    "解锁"
	    "的，柜面吊销原证书并换发新证书",
	    "Take the UKey and the user change application form to the bank "
	    "counter to unblock the PIN; if it cannot be unblocked, the "
	    "certificate is revoked and a new one issued"),
	X(UK_ERR_TOKEN_REMOVED, "登录过程中UKey被拔出",
	    "The UKey was pulled out during the login",
	    "插好UKey后重新登录，签名完成前不要拔出",
	    "Insert the UKey and log in again; leave it in until signing is "
	    "done"),
	X(UK_ERR_TOKEN_KEY_NOT_FOUND,
	    "UKey中找不到所选证书的私钥（插错了UKey，或证书已损坏）",
	    "The UKey holds no key for the chosen certificate (wrong UKey, or "
	    "a damaged certificate)",
	    "插入本人的UKey并选择正确的证书；仍不行的到缴存银行柜面换发证书",
	    "Insert the operator's own UKey and choose the right certificate; "
	    "otherwise have it reissued at the bank counter"),
	X(UK_ERR_TOKEN_SIGN, "UKey签名失败", "The UKey failed to sign",
	    "重新插入UKey后再次登录；仍不行运行 ukey-agent doctor",
	    "Re-insert the UKey and log in again; otherwise run ukey-agent "
	    "doctor"),
	X(UK_ERR_TOKEN_MODULE_NOT_ALLOWED,
	    "UKey驱动不在本机UKey助手允许使用的列表中",
	    "The UKey driver is not on the agent's list of allowed modules",
	    "由单位电脑管理员在 ukey-agent "
	    "配置中允许该驱动，或安装中心提供的驱动",
	    "Have the PC's administrator allow the driver in the ukey-agent "
	    "configuration, or install the centre's driver"),
	X(UK_ERR_TOKEN_PIN_FORMAT, "PIN码的长度或格式不符合UKey的要求",
	    "The PIN's length or format does not suit the UKey",
	    "按UKey的说明输入PIN码", "Enter the PIN as the UKey requires"),
	X(UK_ERR_TOKEN_DEVICE, "UKey或读卡器硬件出错",
	    "The UKey or its reader failed",
	    "换一个USB口重新插入；仍不行到缴存银行柜面检测或更换UKey",
	    "Try another USB port; otherwise have the UKey checked or replaced "
	    "at the bank counter"),
	X(UK_ERR_TOKEN_BUSY, "UKey正被另一个操作使用",
	    "The UKey was busy with another operation",
	    "等上一个操作完成后重试，并关闭其他使用UKey的程序",
	    "Wait for the other operation and close other programs using the "
	    "UKey"),
	X(UK_ERR_TOKEN_PIN_ENTRY,
	    "PIN码输入窗口无法打开或被关闭（原系统表现为无法在密码框输入密码）",
	    "The PIN window could not open or was closed",
	    "重新登录；仍无法输入PIN码的运行 ukey-agent doctor 检查",
	    "Log in again; if the PIN still cannot be typed, run ukey-agent "
	    "doctor"),
	X(UK_ERR_TOKEN_PIN_TO_BE_CHANGED, "UKey要求先修改初始PIN码",
	    "The UKey requires its initial PIN to be changed",
	    "到缴存银行柜面修改PIN码后再登录",
	    "Have the PIN changed at the bank counter, then log in"),

	/* 30xx: certificates the UKey sent or the counter looked up */
	X(UK_ERR_CERT_MALFORMED,
	    "证书数据格式错误，无法读取（原系统提示“证书非法或者不存在”）",
	    "The certificate could not be parsed",
	    "重新插入UKey后再试；仍不行的证书已损坏，到缴存银行柜面换发证书",
	    "Re-insert the UKey and retry; otherwise the certificate is "
	    "damaged: have it reissued at the bank counter"),
	X(UK_ERR_CERT_NOT_FOUND,
	    "按序列号找不到该证书（原系统提示“证书非法或者不存在”）",
	    "No certificate has that serial number", NULL, NULL),

	/* 31xx: certificate verification */
	X(UK_ERR_CERT_UNTRUSTED,
	    "所用证书不是本中心或认可的证书机构签发的（原系统提示“签名失败，请"
	    "确认签"
	    "名控件，根证书已被导入”）",
	    "The certificate is not from the centre's or an accepted CA",
	    "确认操作员选择的是公积金网上业务证书而不是其他网银证书；选对后仍出"
	    "现的"
	    "，记下事件编号转技术支持",
	    "Make sure the provident fund certificate was chosen, not another "
	    "bank's; if it was, pass the event number to technical support"),
	X(UK_ERR_CERT_EXPIRED, "证书已过有效期（证书一般有效一年）",
	    "The certificate has expired (they last about a year)",
	    "官网下载《单位住房公积金网上业务用户变更申请表》，到缴存银行柜面办"
	    "理证"
	    "书换发",
	    "Download the user change application form and have the "
	    "certificate reissued at the bank counter"),
	X(UK_ERR_CERT_NOT_YET_VALID, "证书尚未生效，多数是电脑时间不正确",
	    "The certificate is not valid yet, usually the PC's clock is wrong",
	    NULL, NULL),
	X(UK_ERR_CERT_REVOKED,
	    "证书已被吊销（换发、挂失或经办人变更后原证书作废）",
	    "The certificate was revoked (after a reissue, a loss or a change "
	    "of operator)",
	    "使用换发后的新证书；没有新证书的到缴存银行柜面办理证书换发",
	    "Use the new certificate; without one, have it reissued at the "
	    "bank counter"),
	X(UK_ERR_CERT_PURPOSE, "所选证书不能用于登录（选错了证书）",
	    "The chosen certificate is not a login certificate",
	    "在证书列表中选择公积金网上业务的登录证书",
	    "Choose the provident fund login certificate in the list"),
	X(UK_ERR_CERT_LEAF,
	    "证书不符合登录证书的规范（已损坏或不是经办人证书）",
	    "The certificate breaks the rules for login certificates", NULL,
	    NULL),
	X(UK_ERR_CERT_REVOCATION_UNKNOWN,
	    "暂时无法确认证书是否被吊销（吊销列表或OCSP服务不可用），为安全起见"
	    "拒绝"
	    "登录",
	    "Whether the certificate is revoked could not be checked, so the "
	    "login was refused",
	    "请操作员稍后重试；持续出现的记下事件编号转系统管理员检查吊销列表和"
	    "OCSP"
	    "服务",
	    "Retry later; if it persists, pass the event number to the system "
	    "administrator (CRL and OCSP)"),
	X(UK_ERR_CERT_SIGNATURE, "证书的签名校验失败，证书可能已损坏",
	    "A signature on the certificate does not verify: it may be damaged",
	    NULL, NULL),
	X(UK_ERR_CERT_POLICY, "证书不符合本中心的证书策略",
	    "The certificate does not meet the centre's policy", NULL, NULL),
	X(UK_ERR_CERT_NAME_CONSTRAINTS, "证书名称超出签发机构允许的范围",
	    "The certificate's names are outside what its CA may issue", NULL,
	    NULL),
	X(UK_ERR_CERT_CHAIN,
	    "无法把证书连到受信任的根证书（中间证书缺失或不符）",
	    "The certificate does not chain to a trusted root", NULL, NULL),
	X(UK_ERR_SIGNATURE_INVALID,
	    "登录签名校验失败（原系统提示“签名失败，或者您已经取消签名”）",
	    "The login signature did not verify",
	    "重新插入UKey；电脑不识别UKey的重新安装驱动；运行 ukey-agent "
	    "doctor "
	    "检查（代替原“网银小助手”）",
	    "Re-insert the UKey; reinstall the driver if the PC does not see "
	    "it; run ukey-agent doctor"),
	X(UK_ERR_CERT_UNKNOWN_OPERATOR, "证书不属于任何登记的经办人",
	    "The certificate belongs to no registered operator",
	    "选择本人的证书；确是本人证书的，到缴存银行柜面绑定证书",
	    "Choose the operator's own certificate; if it is theirs, have it "
	    "bound at the bank counter"),

	/* 40xx: the UKey login protocol */
	X(UK_ERR_CHALLENGE_UNKNOWN, "登录页面停留过久，登录请求已过期或已使用",
	    "The login page was open too long: its challenge expired or was "
	    "used",
	    NULL, NULL),
	X(UK_ERR_CHALLENGE_BROWSER, "登录请求属于另一个浏览器窗口",
	    "The login challenge belonged to another browser", NULL, NULL),
	X(UK_ERR_AUTH_TOKEN_MALFORMED,
	    "本机UKey助手发来的签名数据格式不对（助手版本过旧或已损坏）",
	    "The UKey agent sent malformed login data (old or damaged agent)",
	    "更新或重新安装 ukey-agent，然后运行 ukey-agent doctor",
	    "Update or reinstall ukey-agent, then run ukey-agent doctor"),
	X(UK_ERR_AUTH_TOKEN_ORIGIN,
	    "签名是为其他网站生成的：操作员可能打开了错误或仿冒的网址",
	    "The signature was made for another site: a wrong or fake address",
	    "请操作员核对地址栏，从公积金中心官方网址登录；疑似仿冒网站的报告安"
	    "全负"
	    "责人",
	    "Have the operator check the address bar and use the centre's own "
	    "site; report a suspected fake site to the security officer"),
	X(UK_ERR_CERT_UNBOUND, "证书有效，但没有绑定到任何登记的经办人",
	    "The certificate is valid but bound to no registered operator",
	    NULL, NULL),

	/* 41xx: passwords */
	X(UK_ERR_LOGIN_PASSWORD,
	    "登录密码错误（原系统提示“登录密码错误”）；每天连续输错6次当天冻结",
	    "Wrong password; six wrong passwords in a day freeze the account "
	    "for the day",
	    "请操作员核对密码（注意大小写和输入法）；忘记密码可在登录页用短信验"
	    "证码重"
	    "置，没有可用手机的到缴存银行柜面重置",
	    "Have the operator check the password (case, input method); a "
	    "forgotten one is reset by SMS on the login page, or at the bank "
	    "counter without a phone"),
	X(UK_ERR_LOGIN_UNKNOWN_USER,
	    "输入的登录名不存在（原系统提示“用户不存在或用户类型错误”）",
	    "The login name typed does not exist",
	    "核对登录名或身份证号码（可在本工作台按姓名或单位查找）；忘记登录名"
	    "的到缴"
	    "存银行柜面查询",
	    "Check the login name or resident ID (search here by name or "
	    "unit); the bank counter can look it up"),
	X(UK_ERR_LOGIN_FROZEN,
	    "当天连续输错密码6次，账号已暂时冻结（原系统提示“用户已暂时冻结”）"
	    "；冻"
	    "结期间不再校验密码",
	    "Six wrong passwords today: the account is frozen for the day and "
	    "passwords are not checked until then",
	    "次日零点自动解冻后即可登录；急需办理的，核实身份并填写工单号后在本"
	    "工作台"
	    "解除冻结；也可用UKey证书登录或用短信验证码重置密码",
	    "It thaws at midnight; if it is urgent, check the caller's "
	    "identity "
	    "and unfreeze here with a ticket number; a UKey login or an SMS "
	    "reset also works"),
	X(UK_ERR_LOGIN_RATE, "同一网络地址短时间内登录尝试过多，暂时受限",
	    "Too many attempts from one network address in a short time",
	    "等几分钟后再试；同一单位多人共用出口地址的请错开登录",
	    "Wait a few minutes; people sharing one address should not all "
	    "retry at once"),
	X(UK_ERR_LOGIN_OPERATOR_LEFT,
	    "该经办人已离职或已被变更，账号不能再登录",
	    "The operator has left the unit; the account no longer logs in",
	    "由单位携带《网上业务用户变更申请表》到缴存银行柜面办理经办人变更",
	    "The unit changes its operator at the bank counter with the user "
	    "change application form"),
	X(UK_ERR_LOGIN_NO_PASSWORD,
	    "该账号没有设置登录密码，只能用UKey证书登录",
	    "The account has no password: UKey login only", NULL, NULL),
	X(UK_ERR_LOGIN_DISABLED, "该账号已被停用", "The account is disabled",
	    "到缴存银行柜面咨询停用原因",
	    "Ask at the bank counter why it was disabled"),
	X(UK_ERR_PASSWORD_POLICY, "设置的新密码不符合密码规则",
	    "The new password breaks the password rules", NULL, NULL),
	X(UK_ERR_PASSWORD_MUST_CHANGE,
	    "使用的是柜面重置的临时密码，须先修改密码",
	    "A temporary password from the counter: it must be changed first",
	    "登录后按提示设置新密码",
	    "Set a new password when asked after login"),

	/* 42xx: scan login */
	X(UK_ERR_LOGIN_SCAN_FAILED, "扫码认证失败（原系统提示“扫码认证失败”）",
	    "The scan login failed",
	    "核对网厅地址是否正确；确认扫码人是单位开户时登记的经办人；经办人离"
	    "职的到"
	    "柜面修改经办人信息",
	    "Check the hall's address; the person scanning must be the unit's "
	    "registered operator; change a departed operator at the counter"),
	X(UK_ERR_SCAN_NOT_OPERATOR, "扫码的微信没有绑定任何登记的经办人",
	    "The WeChat that scanned is bound to no registered operator",
	    "请单位登记的经办人本人扫码；首次使用须先用UKey登录，在“个人设置”绑"
	    "定"
	    "微信",
	    "The registered operator must scan; bind WeChat in “My account” "
	    "after a UKey login first"),
	X(UK_ERR_SCAN_OPERATOR_LEFT, "扫码的微信绑定的经办人已离职或已变更",
	    "The WeChat that scanned belongs to an operator who left", NULL,
	    NULL),
	X(UK_ERR_SCAN_NO_AGREEMENT, "单位尚未签订网上业务协议，不能扫码登录",
	    "The unit has not signed the agreement: no scan login", NULL, NULL),
	X(UK_ERR_SCAN_WRONG_SITE,
	    "扫的二维码不是本网站生成的或已失效（可能打开了错误或仿冒的网址）",
	    "The QR code scanned is not this site's or no longer valid", NULL,
	    NULL),
	X(UK_ERR_SCAN_TICKET_UNKNOWN, "二维码已失效或不属于当前浏览器",
	    "The QR code is no longer valid or belongs to another browser",
	    NULL, NULL),
	X(UK_ERR_SCAN_EXPIRED, "二维码超过有效时间仍未确认",
	    "The QR code expired before it was confirmed", NULL, NULL),
	X(UK_ERR_SCAN_STATE, "二维码状态已改变（已在别处使用或已取消）",
	    "The QR code was used or cancelled elsewhere", NULL, NULL),
	X(UK_ERR_SCAN_SLOW_DOWN, "浏览器查询扫码结果过于频繁",
	    "The browser asked for the scan result too often", NULL, NULL),
	X(UK_ERR_SCAN_OAUTH_STATE, "微信授权请求无效或已使用",
	    "The WeChat authorisation request was invalid or reused", NULL,
	    NULL),
	X(UK_ERR_WECHAT_CODE, "微信授权码无效或已使用",
	    "The WeChat authorisation code was invalid or used", NULL, NULL),
	X(UK_ERR_WECHAT_UNAVAILABLE, "网关暂时无法连接微信服务",
	    "The gateway could not reach WeChat", NULL, NULL),
	X(UK_ERR_SCAN_CANCELLED, "操作员在手机上取消了扫码登录",
	    "The operator cancelled the scan login on the phone", NULL, NULL),
	X(UK_ERR_SCAN_OPENID_TAKEN, "该微信已绑定另一位经办人",
	    "This WeChat is bound to another operator", NULL, NULL),

	/* 43xx: the login page and the agent */
	X(UK_ERR_LOGIN_SIGN_COMPONENT,
	    "登录页无法连接本机UKey助手（原系统提示“签名失败，请确认签名控件/"
	    "根证书"
	    "已经被导入浏览器”）",
	    "The login page could not reach the UKey agent on the PC",
	    "确认已安装并启动 ukey-agent、浏览器没有阻止访问本机；运行 "
	    "ukey-agent "
	    "doctor 检查（代替原“网银小助手”）",
	    "Make sure ukey-agent is installed and running and the browser "
	    "does not block it; run ukey-agent doctor"),
	X(UK_ERR_LOGIN_SIGN_CANCELLED,
	    "操作员在PIN码窗口取消了签名（原系统提示“签名失败，或者您已经取消签"
	    "名”）",
	    "The operator cancelled signing in the PIN window",
	    "重新登录并输入PIN码；PIN码窗口不出现的重新插入UKey",
	    "Log in again and enter the PIN; re-insert the UKey if no PIN "
	    "window appears"),
	X(UK_ERR_LOGIN_CERT_INFO,
	    "读取证书信息出错：选错了证书，或证书已过期或损坏（原系统提示“错误"
	    "代码：证"
	    "书信息获取出错”）",
	    "The certificate could not be read: the wrong one was chosen, or "
	    "it "
	    "expired or is damaged",
	    "选择正确的证书重新尝试；证书过期或损坏的，官网下载《单位住房公积金"
	    "网上业"
	    "务用户变更申请表》到缴存银行办理证书换发",
	    "Choose the right certificate; an expired or damaged one is "
	    "reissued at the bank counter with the user change form"),

	/* 44xx: sessions */
	X(UK_ERR_SESSION_NONE, "访问时尚未登录",
	    "The page was used without logging in", NULL, NULL),
	X(UK_ERR_SESSION_EXPIRED,
	    "登录已超时（长时间未操作或超过最长登录时间）",
	    "The session timed out", NULL, NULL),
	X(UK_ERR_SESSION_REVOKED,
	    "登录已被结束（退出登录、修改密码、经办人变更或单位注销后）",
	    "The session was ended (logout, password change, operator change "
	    "or unit closed)",
	    NULL, NULL),
	X(UK_ERR_CSRF, "页面已过期，提交被拒绝（防跨站请求校验未通过）",
	    "The page was stale, so the request was refused (CSRF check)", NULL,
	    NULL),
	X(UK_ERR_JWT_INVALID, "业务系统拒绝了网关的身份断言",
	    "The business system refused the gateway's identity assertion",
	    "记下事件编号转系统管理员检查网关与业务系统的时钟和密钥配置",
	    "Pass the event number to the system administrator (clocks, keys)"),

	/* 45xx: SMS reset */
	X(UK_ERR_RESET_CODE_WRONG, "输入的短信验证码错误或已失效",
	    "The SMS code was wrong or no longer valid", NULL, NULL),
	X(UK_ERR_RESET_CODE_EXPIRED, "短信验证码已超过5分钟有效期",
	    "The SMS code was older than 5 minutes", NULL, NULL),
	X(UK_ERR_RESET_CODE_USED, "短信验证码已用过或已被新的验证码取代",
	    "The SMS code was used or replaced by a newer one", NULL, NULL),
	X(UK_ERR_RESET_CODE_EXHAUSTED, "同一个验证码输错5次，已作废",
	    "Five wrong tries used the SMS code up", NULL, NULL),
	X(UK_ERR_RESET_NO_CODE, "尚未获取短信验证码就提交了",
	    "No SMS code had been requested", NULL, NULL),
	X(UK_ERR_RESET_TOKEN, "重置密码的步骤已过期或已完成",
	    "The password reset step expired or was done already", NULL, NULL),
	X(UK_ERR_RESET_RATE, "短信重置操作过于频繁",
	    "Too many password reset requests", NULL, NULL),
	X(UK_ERR_RESET_PHONE_LIMIT,
	    "该手机号码接收验证码过于频繁（每分钟1条、每小时5条、每天10条）",
	    "Too many codes to this phone (1 a minute, 5 an hour, 10 a day)",
	    NULL, NULL),
	X(UK_ERR_RESET_NO_PHONE, "账号没有绑定手机号码，无法发送验证码",
	    "No phone is bound to the account, so no code could be sent",
	    "携带《网上业务用户变更申请表》到缴存银行柜面登记手机号码或重置密"
	    "码",
	    "Take the user change form to the bank counter to register a phone "
	    "or reset the password"),
	X(UK_ERR_RESET_UNKNOWN_USER, "申请重置密码时输入的登录名不存在",
	    "The login name given for the reset does not exist", NULL, NULL),
	X(UK_ERR_RESET_INACTIVE, "账号已停用或经办人已变更，不能重置密码",
	    "The account is disabled or the operator left: no reset", NULL,
	    NULL),
	X(UK_ERR_SMS_TEMPORARY, "短信服务商暂时不可用，验证码会自动重发",
	    "The SMS provider was down; the code is sent again automatically",
	    "请操作员稍候；长时间收不到的转系统管理员查看短信发送记录",
	    "Ask the operator to wait; if nothing arrives, the system "
	    "administrator checks the SMS outbox"),
	X(UK_ERR_SMS_REJECTED, "短信服务商拒绝发送验证码",
	    "The SMS provider refused to send the code",
	    "转系统管理员检查短信服务商配置；操作员可先用UKey证书登录",
	    "The system administrator checks the SMS provider; the operator "
	    "can log in with the UKey meanwhile"),

	/* 5xxx: policy after login, the hall */
	X(UK_ERR_POLICY_DENIED, "访问了无权使用的功能",
	    "A function the account may not use was asked for", NULL, NULL),
	X(UK_ERR_POLICY_HALL_UNAUTHORISED,
	    "单位尚未办理网厅用户授权，除授权本身以外的业务都被拒绝（原系统提示"
	    "“缴"
	    "存单位未办理网厅用户授权，不允许办理其他业务”）",
	    "The unit has not done the online hall user authorisation: "
	    "everything else is refused",
	    "请单位用UKey证书登录，在业务菜单中找到“缴存单位网厅用户授权”办理授"
	    "权，"
	    "然后再办理其他业务",
	    "The unit logs in with the UKey and does “unit online hall user "
	    "authorisation” in the business menu first"),
	X(UK_ERR_POLICY_AGREEMENT,
	    "单位尚未签订网上业务协议（网上自主协议），不能登录",
	    "The unit has not signed the online service agreement, so it "
	    "cannot log in",
	    "由单位到缴存银行柜面签订网上自主协议后再登录",
	    "The unit signs the agreement at the bank counter, then logs in"),
	X(UK_ERR_POLICY_EMPLOYEE_PHONE,
	    "单位下有缴存职工没有登记手机号码（原系统提示“单位下存在手机号码为"
	    "空的缴"
	    "存职工，请进行维护”）",
	    "Some employees of the unit have no phone number",
	    "进入“缴存人清册”查找手机号码为空的职工，再通过“缴存人基本信息变更”"
	    "补充"
	    "手机号",
	    "Find the employees without a phone in the register and add one "
	    "through “employee details change”"),
	X(UK_ERR_POLICY_SCOPE,
	    "账号密码登录只能办理查询业务，该业务需要UKey证书登录",
	    "A password login allows queries only; this needs the UKey", NULL,
	    NULL),
	X(UK_ERR_POLICY_ROLE, "操作员的岗位（录入/复核/专管员）不能办理该业务",
	    "The operator's role (maker, checker, admin) does not allow it",
	    NULL, NULL),
	X(UK_ERR_POLICY_STEP_UP, "该业务需要重新插入UKey签名确认",
	    "This business needs a fresh UKey signature", NULL, NULL),
	X(UK_ERR_POLICY_STAFF_ONLY, "访问了仅限中心或银行工作人员使用的功能",
	    "A staff-only function was asked for", NULL, NULL),
	X(UK_ERR_UPSTREAM_DOWN, "网上业务系统暂时无法访问",
	    "The online hall's business system could not be reached",
	    "请操作员稍后重试；持续出现的转系统管理员",
	    "Retry later; tell the system administrator if it persists"),
	X(UK_ERR_UPSTREAM_TIMEOUT, "网上业务系统响应超时",
	    "The business system did not answer in time", NULL, NULL),
};

/* The acts audit rows record. */
static const struct {
	const char *event, *zh, *en;
} kinds[] = {
	{ "admin.binding.add", "柜面绑定证书",
	    "Certificate bound at the counter" },
	{ "admin.binding.remove", "柜面解除证书绑定",
	    "Certificate unbound at the counter" },
	{ "admin.operator.add", "柜面登记经办人", "Operator registered" },
	{ "admin.operator.bind_openid", "绑定微信", "WeChat bound" },
	{ "admin.operator.change", "变更经办人信息",
	    "Operator details changed" },
	{ "admin.operator.leave", "经办人离职（变更）",
	    "Operator left the unit" },
	{ "admin.operator.set_password", "设置或重置密码", "Password set" },
	{ "admin.operator.unbind_openid", "解除微信绑定", "WeChat unbound" },
	{ "admin.operator.unfreeze", "解除冻结", "Unfrozen" },
	{ "admin.unit.add", "单位登记", "Unit registered" },
	{ "admin.unit.agreement", "签订网上业务协议", "Agreement signed" },
	{ "admin.unit.authorize", "网厅用户授权", "Online hall authorised" },
	{ "admin.unit.close", "单位注销", "Unit closed" },
	{ "admin.unit.revoke_authorization", "撤销网厅用户授权",
	    "Online hall authorisation revoked" },
	{ "cert.issue", "签发证书", "Certificate issued" },
	{ "cert.reissue", "换发证书", "Certificate reissued" },
	{ "cert.revoke", "吊销证书", "Certificate revoked" },
	{ "console.refused", "工作台访问", "Console access" },
	{ "csrf.refused", "提交校验", "Request check" },
	{ "helpdesk.search", "服务热线查询", "Helpdesk search" },
	{ "helpdesk.unfreeze", "服务热线解除冻结", "Helpdesk unfreeze" },
	{ "helpdesk.view", "服务热线查看", "Helpdesk view" },
	{ "login.cert", "UKey证书登录", "UKey certificate login" },
	{ "login.password", "账号密码登录", "Password login" },
	{ "login.password.refused", "账号密码登录", "Password login" },
	{ "logout", "退出登录", "Logout" },
	{ "password.change", "修改密码", "Password change" },
	{ "policy.refused", "访问业务", "Access to the hall" },
	{ "reset.password", "短信重置密码：设置新密码",
	    "SMS reset: new password" },
	{ "reset.request", "短信重置密码：获取验证码",
	    "SMS reset: code requested" },
	{ "reset.verify", "短信重置密码：核对验证码",
	    "SMS reset: code checked" },
	{ "scan.cancel", "扫码登录：手机上取消", "Scan login: cancelled" },
	{ "scan.claim", "扫码登录：完成", "Scan login: completed" },
	{ "scan.confirm", "扫码登录：手机上确认", "Scan login: confirmed" },
	{ "scan.create", "扫码登录：生成二维码", "Scan login: QR code made" },
	{ "scan.refused", "扫码登录", "Scan login" },
	{ "scan.scanned", "扫码登录：手机已扫码", "Scan login: scanned" },
};

const struct gw_hd_explain *
gw_hd_explain_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct gw_hd_explain *
gw_hd_explain_find(int code)
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
	return NULL;
}

int
gw_hd_login_code(int code)
{
	return (code >= 2000 && code < 3000) || code == UK_ERR_CERT_MALFORMED ||
	    (code >= 3100 && code < 3200) || (code >= 4000 && code < 4600) ||
	    (code >= 5000 && code < 6000);
}

int
gw_hd_parse_code(const char *s, int *code)
{
	const struct uk_error_info *info;
	int v = 0, i;

	if (s == NULL)
		return UK_ERR_NOT_FOUND;
	if (strncasecmp(s, "UK", 2) == 0) {
		s += 2;
		if (*s == '-' || *s == ' ')
			s++;
	}
	for (i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)s[i]))
			return UK_ERR_NOT_FOUND;
		v = v * 10 + (s[i] - '0');
	}
	if (s[4] != '\0')
		return UK_ERR_NOT_FOUND;
	info = uk_error_info(v);
	if (info->code != v)
		return UK_ERR_NOT_FOUND;
	*code = v;
	return 0;
}

void
gw_hd_describe(const char *event, const char *result, struct gw_hd_text *out)
{
	const struct uk_error_info *info;
	const struct gw_hd_explain *x;
	size_t i;
	int code = 0;

	memset(out, 0, sizeof(out[0]));
	out->kind_zh = out->kind_en = event != NULL ? event : "";
	for (i = 0; event != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].event, event) == 0) {
			out->kind_zh = kinds[i].zh;
			out->kind_en = kinds[i].en;
			break;
		}
	if (result == NULL || *result == '\0' || strcmp(result, "ok") == 0 ||
	    gw_hd_parse_code(result, &code) != 0) {
		out->what_zh = result == NULL || *result == '\0' ||
		        strcmp(result, "ok") == 0
		    ? "成功"
		    : result;
		out->what_en = result == NULL || *result == '\0' ||
		        strcmp(result, "ok") == 0
		    ? "Done"
		    : result;
		return;
	}
	out->code = code;
	info = uk_error_info(code);
	x = gw_hd_explain_find(code);
	out->what_zh = x != NULL ? x->what_zh : info->zh;
	out->what_en = x != NULL ? x->what_en : info->en;
	out->remedy_zh =
	    x != NULL && x->remedy_zh != NULL ? x->remedy_zh : info->remedy_zh;
	out->remedy_en =
	    x != NULL && x->remedy_en != NULL ? x->remedy_en : info->remedy_en;
}

int
gw_hd_event_number(const char *in, char out[33])
{
	size_t j = 0;

	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == '-')
			continue;
		if (!isxdigit((unsigned char)*in) || j == 32)
			return UK_ERR_INPUT;
		out[j++] = (char)toupper((unsigned char)*in);
	}
	out[j] = '\0';
	return j >= 8 ? 0 : UK_ERR_INPUT;
}

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

#define EV_COLS                                                                \
	"seq, at, event_id, event, actor, subject, detail, ip, user_agent, "   \
	"result"

/* Fills ev from row i; a password attempt's own row ("login.password",
 * written without the result and ip columns) gets them from its detail. */
static void
ev_row(const struct store_res *res, size_t i, struct gw_hd_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = store_res_int(res, i, 0);
	ev->at = store_res_int(res, i, 1);
	copy(ev->id, sizeof(ev->id), store_res_text(res, i, 2));
	copy(ev->event, sizeof(ev->event), store_res_text(res, i, 3));
	copy(ev->actor, sizeof(ev->actor), store_res_text(res, i, 4));
	copy(ev->subject, sizeof(ev->subject), store_res_text(res, i, 5));
	copy(ev->detail, sizeof(ev->detail), store_res_text(res, i, 6));
	copy(ev->ip, sizeof(ev->ip), store_res_text(res, i, 7));
	copy(ev->ua, sizeof(ev->ua), store_res_text(res, i, 8));
	copy(ev->result, sizeof(ev->result), store_res_text(res, i, 9));
	if (ev->result[0] == '\0' || ev->ip[0] == '\0') {
		json_t *d = json_loads(store_res_text(res, i, 6) != NULL
		        ? store_res_text(res, i, 6)
		        : "",
		    0, NULL);
		const char *v;

		if (json_is_object(d)) {
			v = json_string_value(json_object_get(d, "result"));
			if (ev->result[0] == '\0' && v != NULL)
				copy(ev->result, sizeof(ev->result), v);
			v = json_string_value(json_object_get(d, "ip"));
			if (ev->ip[0] == '\0' && v != NULL)
				copy(ev->ip, sizeof(ev->ip), v);
			v = json_string_value(json_object_get(d, "user_agent"));
			if (ev->ua[0] == '\0' && v != NULL)
				copy(ev->ua, sizeof(ev->ua), v);
		}
		json_decref(d);
	}
}

/* Up to max rows of res into a malloc'd array; *more when res has more. */
static int
ev_rows(const struct store_res *res, size_t max, struct gw_hd_event **out,
    size_t *n, int *more)
{
	size_t rows = store_res_rows(res), i;
	struct gw_hd_event *v = NULL;

	*more = rows > max;
	if (rows > max)
		rows = max;
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL)
		return UK_ERR_NOMEM;
	for (i = 0; i < rows; i++)
		ev_row(res, i, &v[i]);
	*out = v;
	*n = rows;
	return 0;
}

int
gw_hd_events_by_number(struct store *st, const char *number, size_t max,
    struct gw_hd_event **out, size_t *n, int *more)
{
	struct store_res *res = NULL;
	char hi[34];
	size_t len;
	int r;

	*out = NULL;
	*n = 0;
	*more = 0;
	len = strlen(number);
	if (len < 8 || len > 32 || max == 0)
		return UK_ERR_INPUT;
	if (len == 32) {
		r = store_exec(st, &res,
		    "SELECT " EV_COLS " FROM audit WHERE event_id = ?", "t",
		    number);
	} else {
		/* the ids are uppercase hex: every id beginning with number
		 * sorts between number and number followed by 'G' */
		snprintf(hi, sizeof(hi), "%sG", number);
		r = store_exec(st, &res,
		    "SELECT " EV_COLS " FROM audit WHERE event_id >= ? AND "
		    "event_id < ? ORDER BY seq DESC LIMIT ?",
		    "tti", number, hi, (int64_t)max + 1);
	}
	if (r == 0)
		r = ev_rows(res, max, out, n, more);
	store_res_free(res);
	return r;
}

static int
cert_cmp(const void *a, const void *b)
{
	const struct gw_hd_cert *x = a, *y = b;

	/* newest expiry first: the certificates in use come first */
	return x->not_after < y->not_after ? 1
	    : x->not_after > y->not_after  ? -1
	                                   : strcmp(x->sha256, y->sha256);
}

int
gw_hd_operator_certs(struct store *st, const struct gw_operator *o,
    struct gw_hd_cert **out, size_t *n)
{
	struct ca_cert_info *ci = NULL;
	struct gw_binding *b = NULL;
	struct gw_hd_cert *v = NULL;
	struct ca *ca = NULL;
	size_t nci = 0, nb = 0, i, j, k = 0;
	int r;

	*out = NULL;
	*n = 0;
	r = ca_open(st, &ca);
	if (r == 0)
		r = ca_list(ca, o->unit, &ci, &nci);
	else if (r == UK_ERR_CA_NOT_INITIALISED)
		r = 0;
	if (r != 0)
		goto out;
	if ((r = gw_binding_list(st, o->id, 0, &b, &nb)) != 0)
		goto out;
	if (nci + nb > 0 && (v = calloc(nci + nb, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nci; i++) {
		if (ci[i].operator== NULL ||
		        strcasecmp(ci[i].operator, o->login) != 0 ||
		    ci[i].profile == NULL ||
		    strcmp(ci[i].profile, "operator") != 0)
			continue;
		copy(v[k].serial, sizeof(v[k].serial), ci[i].serial);
		copy(v[k].sha256, sizeof(v[k].sha256), ci[i].sha256);
		copy(v[k].subject, sizeof(v[k].subject), ci[i].subject);
		copy(v[k].source, sizeof(v[k].source), "ca");
		copy(v[k].status, sizeof(v[k].status), ci[i].status);
		v[k].not_after = ci[i].not_after;
		v[k].revoked_at = ci[i].revoked_at;
		k++;
	}
	for (i = 0; i < nb; i++) {
		for (j = 0; j < k; j++)
			if (strcmp(v[j].sha256, b[i].sha256) == 0)
				break;
		if (j < k)
			continue;
		copy(v[k].sha256, sizeof(v[k].sha256), b[i].sha256);
		copy(v[k].subject, sizeof(v[k].subject), b[i].subject);
		copy(v[k].source, sizeof(v[k].source), b[i].source);
		copy(v[k].status, sizeof(v[k].status), "bound");
		v[k].not_after = b[i].not_after;
		/* issuer '#' serial: the serial for the search of CA acts */
		{
			const char *h = strrchr(b[i].issuer_serial, '#');
			if (h != NULL)
				copy(v[k].serial, sizeof(v[k].serial), h + 1);
		}
		k++;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cert_cmp);
	*out = k > 0 ? v : NULL;
	*n = k;
	if (k > 0)
		v = NULL; /* transferred */
	r = 0;
out:
	free(v);
	free(b);
	ca_cert_info_free(ci, nci);
	ca_free(ca);
	return r;
}

int
gw_hd_operator_events(struct store *st, const struct gw_operator *o,
    const struct gw_hd_cert *certs, size_t ncerts, int64_t now, size_t max,
    struct gw_hd_event **out, size_t *n, int *more)
{
	struct store_res *res = NULL;
	const char *c[2 * GW_HD_CERTS_MAX];
	char subj[GW_LOGIN_MAX + 16], subj_lc[GW_LOGIN_MAX + 16];
	char lc[GW_LOGIN_MAX + 1], uc[GW_LOGIN_MAX + 1], unit[GW_LOGIN_MAX + 8];
	char rid_lc[19], frag[GW_LOGIN_MAX + 140];
	char *pat_op = NULL, *pat_wx = NULL;
	int64_t from = 0;
	size_t i;
	int r;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (max == 0)
		return UK_ERR_INPUT;
	memset(c, 0, sizeof(c));
	for (i = 0; i < ncerts && i < GW_HD_CERTS_MAX; i++) {
		c[2 * i] = certs[i].sha256[0] != '\0' ? certs[i].sha256 : NULL;
		c[2 * i + 1] =
		    certs[i].serial[0] != '\0' ? certs[i].serial : NULL;
	}
	snprintf(subj, sizeof(subj), "operator:%s", o->login);
	for (i = 0; o->login[i] != '\0' && i < sizeof(lc) - 1; i++) {
		lc[i] = (char)tolower((unsigned char)o->login[i]);
		uc[i] = (char)toupper((unsigned char)o->login[i]);
	}
	lc[i] = uc[i] = '\0';
	snprintf(subj_lc, sizeof(subj_lc), "operator:%s", lc);
	for (i = 0; o->resident_id[i] != '\0' && i < sizeof(rid_lc) - 1; i++)
		rid_lc[i] = (char)tolower((unsigned char)o->resident_id[i]);
	rid_lc[i] = '\0';
	snprintf(unit, sizeof(unit), "unit:%s", o->unit);
	snprintf(frag, sizeof(frag), "\"operator\":\"%s\"", o->login);
	if ((pat_op = gw_model_like(frag)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (o->openid[0] != '\0') {
		snprintf(frag, sizeof(frag), "\"openid\":\"%s\"", o->openid);
		if ((pat_wx = gw_model_like(frag)) == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
	}
	/* The window: from the first row at or after now - window (the at
	 * index), then the newest rows by seq. */
	if ((r = store_exec(st, &res,
	         "SELECT seq FROM audit WHERE at >= ? ORDER BY at, seq LIMIT 1",
	         "i", now - GW_HD_EVENTS_WINDOW)) != 0)
		goto out;
	if (store_res_rows(res) == 0) {
		r = 0;
		goto out;
	}
	from = store_res_int(res, 0, 0);
	store_res_free(res);
	res = NULL;
	/* Each arm of the union is served by an index (audit_subject,
	 * audit_subject_lc, audit_actor, audit_event: migration 6), so that
	 * the cost follows the operator's rows, not the size of the trail. */
	r = store_exec(st, &res,
	    "SELECT " EV_COLS " FROM audit WHERE seq IN ("
	    "SELECT seq FROM audit WHERE subject IN (?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "AND seq >= ? UNION "
	    "SELECT seq FROM audit WHERE lower(subject) IN (?, ?) "
	    "AND seq >= ? UNION "
	    "SELECT seq FROM audit WHERE actor = ? AND seq >= ? UNION "
	    "SELECT seq FROM audit WHERE event IN (" GW_HD_SCAN_EVENTS ") "
	    "AND seq >= ? AND (detail LIKE ? ESCAPE '\\' OR "
	    "(? IS NOT NULL AND detail LIKE ? ESCAPE '\\'))) AND "
	    "event NOT IN ('helpdesk.search', 'helpdesk.view') AND "
	    "NOT (event = 'login.password' AND coalesce(result, '') <> 'ok' "
	    "AND coalesce(detail, '') NOT LIKE '%\"result\":\"ok\"%') "
	    "ORDER BY seq DESC LIMIT ?",
	    "tttttt"
	    "tttttttttttttttttttt"
	    "i"
	    "tt"
	    "i"
	    "t"
	    "i"
	    "i"
	    "ttt"
	    "i",
	    subj, o->login, uc, o->resident_id[0] ? o->resident_id : NULL,
	    o->resident_id[0] ? rid_lc : NULL, unit, c[0], c[1], c[2], c[3],
	    c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
	    c[14], c[15], c[16], c[17], c[18], c[19], from, lc, subj_lc, from,
	    subj, from, from, pat_op, pat_wx, pat_wx, (int64_t)max + 1);
	if (r == 0)
		r = ev_rows(res, max, out, n, more);
out:
	store_res_free(res);
	free(pat_op);
	free(pat_wx);
	return r;
}

/* 1 when s is 64 lowercase hex digits (a SHA-256 in the audit). */
static int
is_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return s[64] == '\0';
}

/* The operator our CA issued the certificate with SHA-256 or serial key
 * for. */
static int
op_by_cert(struct store *st, const char *key, struct gw_operator *out)
{
	struct store_res *res = NULL;
	int r;

	if ((r = store_exec(st, &res,
	         "SELECT operator, unit_id FROM certs WHERE (sha256 = ? OR "
	         "serial = ?) AND profile = 'operator'",
	         "tt", key, key)) != 0)
		goto out;
	r = UK_ERR_NOT_FOUND;
	if (store_res_rows(res) != 1 || store_res_text(res, 0, 0) == NULL)
		goto out;
	if ((r = gw_operator_find(st, store_res_text(res, 0, 0), out)) != 0)
		goto out;
	if (store_res_text(res, 0, 1) == NULL ||
	    strcmp(out->unit, store_res_text(res, 0, 1)) != 0)
		r = UK_ERR_NOT_FOUND;
out:
	store_res_free(res);
	return r;
}

/* The operator of "operator:<login>" text. */
static int
op_by_principal(struct store *st, const char *p, struct gw_operator *out)
{
	if (strncmp(p, "operator:", 9) != 0)
		return UK_ERR_NOT_FOUND;
	return gw_operator_find(st, p + 9, out);
}

int
gw_hd_event_operator(struct store *st, const struct gw_hd_event *ev,
    struct gw_operator *out)
{
	struct gw_binding b;
	int r;

	if ((r = op_by_principal(st, ev->actor, out)) != UK_ERR_NOT_FOUND)
		return r;
	if ((r = op_by_principal(st, ev->subject, out)) != UK_ERR_NOT_FOUND)
		return r;
	if (is_sha256(ev->subject)) {
		r = gw_binding_find(st, ev->subject, &b);
		if (r == 0 && b.operator_id != 0)
			return gw_operator_get(st, b.operator_id, out);
		if (r != 0 && r != UK_ERR_NOT_FOUND)
			return r;
		return op_by_cert(st, ev->subject, out);
	}
	if (strncmp(ev->event, "cert.", 5) == 0)
		return op_by_cert(st, ev->subject, out);
	if (strncmp(ev->event, "scan.", 5) == 0) {
		json_t *d = json_loads(ev->detail, 0, NULL);
		const char *login =
		    json_string_value(json_object_get(d, "operator"));

		r = login != NULL ? gw_operator_find(st, login, out)
		                  : UK_ERR_NOT_FOUND;
		json_decref(d);
		return r;
	}
	if (strncmp(ev->event, "login.password", 14) == 0 &&
	    ev->subject[0] != '\0')
		return gw_operator_find(st, ev->subject, out);
	return UK_ERR_NOT_FOUND;
}

int
gw_hd_search_operators(struct store *st, const char *q, size_t max,
    int64_t **ids, size_t *n, int *more)
{
	struct store_res *res = NULL;
	char *pat = NULL, phone[32], rid[19];
	int64_t *v = NULL;
	size_t rows, i, j = 0;
	int r;

	*ids = NULL;
	*n = 0;
	*more = 0;
	if (q == NULL || *q == '\0' || max == 0)
		return UK_ERR_INPUT;
	/* a phone as people write it: spaces, '-', a +86 prefix */
	for (i = 0; q[i] != '\0' && j < sizeof(phone) - 1; i++)
		if (q[i] != ' ' && q[i] != '-')
			phone[j++] = q[i];
	phone[j] = '\0';
	if (strncmp(phone, "+86", 3) == 0)
		memmove(phone, phone + 3, strlen(phone + 3) + 1);
	for (i = 0; q[i] != '\0' && i < sizeof(rid) - 1; i++)
		rid[i] = (char)toupper((unsigned char)q[i]);
	rid[i] = '\0';
	if ((pat = gw_model_like(q)) == NULL)
		return UK_ERR_NOMEM;
	r = store_exec(st, &res,
	    "SELECT id FROM operators WHERE login_lc LIKE lower(?) ESCAPE '\\' "
	    "OR lower(name) LIKE lower(?) ESCAPE '\\' OR phone = ? OR "
	    "resident_id = ? OR unit_id IN (SELECT id FROM units WHERE "
	    "lower(id) LIKE lower(?) ESCAPE '\\' OR "
	    "lower(name) LIKE lower(?) ESCAPE '\\') "
	    "ORDER BY unit_id, login_lc LIMIT ?",
	    "tttttti", pat, pat, phone, rid, pat, pat, (int64_t)max + 1);
	if (r != 0)
		goto out;
	rows = store_res_rows(res);
	*more = rows > max;
	if (rows > max)
		rows = max;
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		v[i] = store_res_int(res, i, 0);
	*ids = v;
	*n = rows;
out:
	store_res_free(res);
	free(pat);
	return r;
}

int
gw_hd_audit(struct store *st, const struct gw_actor *a, const char *event,
    const char *subject, const char *detail)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.actor = a->who;
	ev.subject = subject;
	ev.detail = detail;
	ev.ip = a->ip != NULL && *a->ip != '\0' ? a->ip : NULL;
	ev.user_agent = a->user_agent;
	ev.result = "ok";
	return audit_append_ex(st, &ev, NULL);
}
