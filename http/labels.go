package http

import (
	"strings"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// operationZH names each operation (route op) in Chinese, as the Chinese
// text of a refusal names it (role_forbidden). Every route has one
// (TestEveryOperationHasAChineseLabel).
var operationZH = map[string]string{
	"health":                       "检查进程是否存活",
	"ready":                        "检查服务器能否处理请求",
	"metrics":                      "读取运行指标",
	"openapi":                      "读取本接口的 OpenAPI 文档",
	"whoami":                       "查看调用者的角色和权限范围",
	"createToken":                  "创建访问令牌",
	"listTokens":                   "列出访问令牌",
	"revokeToken":                  "吊销访问令牌",
	"setTokenExpiry":               "设置访问令牌的过期时间",
	"assignCommunitySupervisor":    "指定社区的督办负责人",
	"recordRectificationInterview": "记录整改事项的约谈",
	"reviewRectification":          "记录整改事项的回头看",
	"listRectifications":           "列出整改事项",
	"listRelief":                   "查看某社区某月的慰问金和物资发放台账（按类别合计）",
	"listVisits":                   "查看走访台账（各户的走访记录）",
	"verifyHouseholdChain":         "校验家庭档案的哈希链",
	"getRectification":             "读取整改事项",
	"drawSpotChecks":               "抽取社区当月走访的抽查样本并分配抽查人员",
	"recordSpotCheckFinding":       "记录抽查结果",
	"getSpotChecks":                "读取社区当月的抽查",
	"openSurvey":                   "开展社区半年度满意度问卷（发放问卷户数）",
	"recordSurveyResponse":         "记录住户交回的满意度问卷",
	"closeSurvey":                  "结束满意度问卷并核算回收率和满意度",
	"getSurvey":                    "读取社区半年度满意度问卷",
	"openFestivalCampaign":         "开展社区节日走访活动（重点家庭逐户设定走访期限）",
	"getFestivalCampaign":          "读取社区节日走访活动及其覆盖情况",
	"listEventSchemas":             "列出事件目录",
	"getEventSchema":               "读取事件的数据结构",
	"createWebhook":                "创建回调订阅",
	"listConsumers":                "列出命名消费者",
	"ackConsumer":                  "确认命名消费者的读取位置",
	"listWebhooks":                 "列出回调订阅",
	"getWebhook":                   "读取回调订阅",
	"deleteWebhook":                "删除回调订阅",
	"listWebhookDeliveries":        "查看回调投递记录",
	"replayWebhookDelivery":        "重放已搁置的回调投递",
	"grantWebhook":                 "授予回调订阅敏感字段",
	"withdrawWebhookGrant":         "撤回回调订阅的敏感字段授权",
	"streamEvents":                 "以服务器推送事件方式订阅事件日志",
	"registerHousehold":            "登记家庭",
	"addMember":                    "添加家庭成员",
	"changeMember":                 "修改成员信息",
	"removeMember":                 "记录成员离开",
	"relocateHousehold":            "记录家庭搬迁",
	"assignWorker":                 "更换责任网格员",
	"changeClass":                  "调整家庭类别",
	"changeCategory":               "调整救助类别",
	"changeRisk":                   "调整风险等级",
	"changeCircumstances":          "调整家庭情况",
	"assessNeeds":                  "评估五类需求",
	"offerResources":               "记录家庭可提供的资源",
	"recordConsent":                "记录信息采集知情同意",
	"archiveHousehold":             "归档家庭档案",
	"requestErasure":               "申请删除家庭或成员的个人信息",
	"approveErasure":               "批准删除申请（销毁密钥）",
	"listErasures":                 "查看家庭的个人信息删除申请",
	"listSensitiveReads":           "查看敏感信息读取与明文查看记录（含用途）并校验其哈希链",
	"recordVisit":                  "录入走访（包括拒访和无人在家）",
	"reportProblem":                "登记在家庭发现的问题",
	"reclassifyProblem":            "重新分类问题",
	"assignProblem":                "分派问题并设定时限",
	"extendProblemDeadline":        "说明理由并延长问题期限",
	"noteProgress":                 "记录跟进情况",
	"resolveProblem":               "记录问题的解决情况",
	"rateSatisfaction":             "记录家庭满意度（1–5 分）",
	"revisitProblem":               "记录对已解决问题的回访",
	"reopenProblem":                "重新打开复发的问题",
	"closeProblem":                 "关闭问题",
	"requestReferral":              "将问题转介至部门或机构",
	"acceptReferral":               "受理转介：指定负责人和时限",
	"declineReferral":              "说明理由并拒绝转介",
	"startReferral":                "记录转介开始办理",
	"completeReferral":             "记录转介的办理结果",
	"cancelReferral":               "说明理由并撤回转介",
	"escalateReferral":             "将转介上报至更高层级",
	"listHouseholds":               "列出和搜索家庭档案",
	"getHousehold":                 "查看家庭档案",
	"householdAsOf":                "查看家庭档案在某一时刻的状态",
	"householdAudit":               "查看家庭的审计记录",
	"householdSensitiveReads":      "查看谁在何时读取了家庭的敏感信息",
	"getProblem":                   "查看问题",
	"problemAudit":                 "查看问题的审计记录",
	"getReferral":                  "查看转介",
	"listAlerts":                   "列出未处理的期限提醒",
	"alertCounts":                  "按社区统计未处理的提醒",
	"listDeadlines":                "列出已逾期或暂定的期限",
	"listVisitsDue":                "列出走访期限在时间窗内（含已逾期）的家庭：本周我网格内待走访的家庭",
	"getMeasures":                  "查看解决率、按时率、满意度和覆盖率",
	"amendPeriod":                  "更正已结账期间的考核数据（须说明原因）",
	"getMeasureFlags":              "查看期末结账记录的预警",
	"getCoverage":                  "查看某期间的家庭走访覆盖率（按类别、重点群体，对照目标）",
	"getCalendar":                  "查看现行工作日历",
	"publishCalendarYear":          "发布（或更正）某一年的工作日历",
	"signIn":                       "用登录名和密码登录",
	"signOut":                      "退出登录",
	"listUsers":                    "列出用户",
	"createUser":                   "创建用户",
	"disableUser":                  "停用用户并结束其会话",
	"enableUser":                   "重新启用用户并解除锁定",
	"setUserExpiry":                "设置用户账户的到期时间",
	"previewRetention":             "预览保存期满将删除的已归档档案",
	"householdConsent":             "查看家庭及成员按用途的知情同意",

	// The closed loop (issue 16).
	"assignDepartmentSupervisor": "指定承办部门的督办负责人",
	"listProblems":               "列出问题工作清单（我的待办、逾期、转介至某部门、待回访）",
	"listReferrals":              "列出转介工作清单（待本部门受理、已受理、逾期）",
}

// roleZH names a token role in Chinese.
func roleZH(r identity.Role) string {
	_, zh := domain.RoleLabel(string(r))
	return zh
}

// roleEN names a token role in English.
func roleEN(r identity.Role) string {
	en, _ := domain.RoleLabel(string(r))
	return en
}

// quotedZH lists codes for a Chinese text: “a”、“b”、“c”.
func quotedZH(codes []string) string {
	q := make([]string, len(codes))
	for i, c := range codes {
		q[i] = "“" + c + "”"
	}
	return strings.Join(q, "、")
}

// scopeFieldZH names the fields of a scope in Chinese.
var scopeFieldZH = map[string]string{"grid": "网格", "community": "社区", "department": "部门", "household": "家庭", "problem": "问题", "referral": "转介"}
