package town

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Chinese data tables. Every string a generated event carries comes from
// here or is composed from here, so the text looks like the records a grid
// worker would type. The place names follow the seed documents (饶平县新丰镇,
// 002); community names are synthetic.

const (
	province = "广东省"
	city     = "潮州市"
	county   = "饶平县"
	// countyCode is the administrative division code of 饶平县, the first six
	// digits of a resident identity number issued there.
	countyCode = "445122"
)

// townNames are the towns (镇) of the county; the first is the seed's town.
var townNames = []string{"新丰镇", "三饶镇", "浮山镇", "东山镇", "建饶镇", "上饶镇", "饶洋镇", "新圩镇", "樟溪镇", "汤溪镇",
	"浮滨镇", "联饶镇", "钱东镇", "高堂镇", "大埕镇", "所城镇", "柘林镇", "黄冈镇", "海山镇", "汫洲镇", "坪溪镇"}

var placeFirst = []string{"东", "西", "南", "北", "新", "和", "平", "安", "福", "兴", "龙", "凤", "金", "石", "水", "山", "林", "竹",
	"梅", "桂", "永", "长", "上", "下", "大", "小", "青", "白", "红", "溪"}
var placeSecond = []string{"丰", "和", "安", "兴", "塘", "坑", "美", "湖", "山", "田", "光", "明", "华", "源", "溪", "岭", "洋", "桥",
	"寨", "埔", "联", "富", "盛", "新", "阳", "口", "头", "园", "厝", "林"}

var roadNames = []string{"人民路", "解放路", "新华街", "中山路", "建设路", "文明路", "和平街", "兴华路", "丰收路", "振兴路"}

// Surnames weighted towards those common in eastern Guangdong (潮汕).
var surnames = []string{"陈", "陈", "陈", "林", "林", "林", "黄", "黄", "张", "李", "吴", "吴", "刘", "蔡", "蔡", "郑", "郑", "许",
	"王", "杨", "詹", "余", "邱", "沈", "谢", "洪", "曾", "周", "卢", "钟", "庄", "苏", "翁", "方", "柯", "江", "赖", "杜", "孙", "马"}
var maleGiven = []string{"伟", "强", "军", "明", "华", "建国", "国平", "振东", "志强", "家豪", "俊杰", "永发", "锦辉", "秋生", "德胜",
	"文彬", "少波", "木坤", "海涛", "泽鑫", "浩然", "子轩", "宇航", "晓东", "荣华", "炳坤", "锡明", "庆生", "阿松", "耀光"}
var femaleGiven = []string{"芳", "丽", "敏", "静", "秀英", "桂兰", "玉珍", "淑芬", "美华", "少玲", "丽娟", "晓燕", "婷婷", "佳怡",
	"雨欣", "梓涵", "秀珍", "素贞", "亚娟", "彩凤", "月娥", "碧霞", "惠玲", "梦琪", "诗涵", "银花", "瑞珠", "阿妹", "丽华", "燕萍"}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// chance is true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// personName returns a full Chinese name.
func personName(r *rand.Rand, female bool) string {
	if female {
		return pick(r, surnames) + pick(r, femaleGiven)
	}
	return pick(r, surnames) + pick(r, maleGiven)
}

// idNumber returns an 18-digit resident identity number with a valid
// ISO 7064 MOD 11-2 check digit: county code, birth date, sequence (odd for
// men, even for women), check digit.
func idNumber(r *rand.Rand, birth string, female bool) string {
	seq := r.IntN(500) * 2
	if !female {
		seq++
	}
	body := countyCode + strings.ReplaceAll(birth, "-", "") + fmt.Sprintf("%03d", seq)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

// phone returns a mainland mobile number.
func phone(r *rand.Rand) string {
	prefixes := []string{"135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "187", "188", "189", "133", "153", "180", "181", "177"}
	return fmt.Sprintf("%s%08d", pick(r, prefixes), r.IntN(100000000))
}

var occupationsWorking = []string{"务农", "务工", "个体经营", "无业", "灵活就业", "环卫工", "保洁员", "外出务工"}

var chronicConditions = []string{"高血压", "糖尿病", "冠心病", "慢性支气管炎", "类风湿关节炎", "腰椎间盘突出", "慢性胃炎"}
var seriousConditions = []string{"尿毒症（规律透析）", "恶性肿瘤术后", "脑梗后遗症", "肝硬化", "重度心衰"}
var disabilities = []string{"肢体二级残疾", "肢体三级残疾", "视力一级残疾", "听力二级残疾", "智力二级残疾", "精神二级残疾", "肢体四级残疾"}

// Visit texts.
var supportTexts = []string{"子女每月回家探望一次，按时给付赡养费", "子女在外地务工，较少联系，每月电话一次", "由侄子代为照看，关系和睦",
	"配偶身体尚可，可相互照应", "无法定赡养人，由村委会协助照看", "子女经济困难，赡养能力有限", "儿子在国外，定期视频联系"}
var safetyOK = []string{"用电用气安全，未发现隐患", "居住环境整洁，门窗完好", "已检查燃气阀门及电线，无异常", "房屋结构稳定，无安全隐患"}
var safetyRisk = []string{"燃气软管老化，已提醒更换", "厨房电线裸露，存在用电隐患", "卫生间地面湿滑，老人易跌倒", "屋顶轻微漏雨", "楼道杂物堆放，影响通行"}
var serviceNeedTexts = []string{"希望有人定期上门聊天", "需要助餐送餐服务", "需要协助代购药品", "希望了解医疗报销政策", "孩子需要课后辅导",
	"希望获得就业信息", "暂无新的服务需求", "希望参加社区文体活动", "需要上门理发服务"}
var healthTexts = []string{"血压控制平稳，按时服药", "近期血糖偏高，已提醒复诊", "身体状况良好", "行动不便，需借助助行器", "睡眠较差，情绪低落",
	"术后恢复良好，定期复查", "精神状况稳定，按时服药", "腿脚不便，较少出门"}
var economicTexts = []string{"低保金按时发放，基本生活有保障", "收入主要靠低保金和子女补贴", "家庭收入较低，医疗支出较大", "特困供养金按月足额发放",
	"有临时务工收入，生活略有改善", "因病支出增加，生活较为困难", "主要劳动力失业，收入中断"}
var observationTexts = []string{"老人精神状态较好，主动交流", "家中卫生状况一般，已协助整理", "孩子学习用品不足", "屋内光线昏暗，建议更换灯具",
	"老人独自在家，午饭尚未准备", "家属情绪焦虑，担心医疗费用", "家中冰箱存放食物充足", "居民对社区工作表示感谢"}
var summaryTexts = []string{"开展五了解，家庭情况稳定", "了解近期生活情况，宣传救助政策", "上门慰问，送去米油等慰问品", "节前走访慰问，了解过节需求",
	"了解健康状况，提醒按时服药", "检查居家安全，宣讲防诈骗知识", "了解就业意愿，介绍公益性岗位", "陪同聊天，给予精神慰藉"}
var refusalTexts = []string{"住户表示不愿接受走访，情绪较抵触，已留下联系卡", "住户称近期不方便，拒绝入户，约定改日再访", "家属拒绝交流，表示不需要帮助"}
var nobodyHomeTexts = []string{"敲门无人应答，电话未接通，已留言", "邻居称住户外出就医，改日再访", "住户外出务工未归，已联系家属"}

// Needs in the five domains (001 §2.2.1).
var needOptions = map[string][]string{
	"elderly_care": {"居家养老", "助餐", "助浴", "日间照料", "一键呼叫"},
	"medical":      {"健康咨询", "家庭医生签约", "慢病管理", "康复训练", "代购药品"},
	"education":    {"课后托管", "学业辅导", "助学金", "心理关爱"},
	"employment":   {"就业培训", "公益性岗位", "创业扶持", "职业介绍"},
	"culture":      {"文体活动", "老年大学", "读书活动", "邻里互助"},
}
var skillOptions = []string{"理发", "缝补衣物", "维修家电", "种植蔬菜", "书法", "潮剧演唱", "厨艺", "手工编织", "电脑操作"}
var idleOptions = []string{"闲置轮椅一台", "空置房间一间", "旧书一批", "闲置自行车", "儿童衣物若干"}

// problemItem is a kind of problem a visit may find, with how it is usually
// handled and to whom it is usually referred.
type problemItem struct {
	category   string // domain.ProblemCategory value
	text       string
	handling   string // domain.HandlingClass value
	colour     string // domain.Colour value
	urgent     bool
	dept       []string // departments it may be referred to (department level)
	resolution string
	resource   string // domain.ResourceKind value
	resText    string
	amountYuan int
}

// problemCatalog follows the categories of 000 §4.1 and 004 §3.1.
var problemCatalog = []problemItem{
	{"policy", "符合条件但未申请低保，需协助办理低保申请", "coordinated", "yellow", false, []string{"民政局"}, "已协助提交低保申请材料，经审批纳入低保", "policy", "纳入最低生活保障", 0},
	{"policy", "咨询医保报销政策，住院费用报销比例不清楚", "coordinated", "yellow", false, []string{"医疗保障局"}, "已讲解报销政策并协助办理报销", "policy", "住院费用医保报销", 0},
	{"policy", "残疾人两项补贴未申领", "coordinated", "yellow", false, []string{"残疾人联合会", "民政局"}, "已协助申领困难残疾人生活补贴和重度残疾人护理补贴", "money", "残疾人两项补贴", 1800},
	{"policy", "高龄津贴停发，需核实原因", "immediate", "yellow", false, []string{"民政局"}, "核实为年度认证未完成，已协助完成认证恢复发放", "policy", "高龄津贴恢复发放", 0},
	{"service", "家中水管漏水，老人无力维修", "immediate", "yellow", true, nil, "已联系志愿者上门更换水管", "service", "志愿者上门维修", 0},
	{"service", "需要定期上门理发、打扫卫生", "long_term", "green", false, nil, "已安排志愿者每月上门理发、打扫", "service", "志愿者定期上门服务", 0},
	{"service", "行动不便，需要助餐送餐服务", "coordinated", "yellow", false, []string{"民政局"}, "已纳入长者饭堂送餐名单", "service", "长者饭堂送餐", 0},
	{"service", "独居老人希望有人定期探访聊天", "long_term", "green", false, nil, "已安排志愿者每周探访，开展结对帮扶", "service", "志愿者结对探访", 0},
	{"resource", "冬季缺少御寒衣被", "immediate", "yellow", false, []string{"慈善会"}, "已送去棉被两床、冬衣一套", "goods", "御寒衣被", 0},
	{"resource", "孩子缺少学习用品和书桌", "coordinated", "green", false, []string{"慈善会", "妇女联合会"}, "通过微心愿平台认领书桌及学习用品", "goods", "书桌及学习用品", 0},
	{"resource", "需要轮椅等康复辅具", "coordinated", "yellow", false, []string{"残疾人联合会"}, "已申请适配轮椅一台", "goods", "轮椅", 0},
	{"resource", "突发重病，医疗费用负担重，申请慈善救助", "coordinated", "red", true, []string{"慈善会", "民政局"}, "已申请临时救助和慈善救助金", "money", "临时救助金", 5000},
	{"psychological", "独居老人孤独感强，情绪低落", "long_term", "yellow", false, nil, "经三次心理疏导，情绪明显好转", "service", "心理疏导服务", 0},
	{"psychological", "单亲母亲压力大，存在焦虑情绪", "long_term", "yellow", false, []string{"妇女联合会"}, "开展三个月心理支持，参加亲子教育工作坊", "service", "心理支持及亲子工作坊", 0},
	{"psychological", "家属照护压力大，需心理疏导", "long_term", "green", false, nil, "社工开展喘息服务和心理疏导", "service", "喘息服务", 0},
	{"living_security", "燃气灶及软管老化，存在安全隐患", "immediate", "red", true, nil, "已更换燃气软管和灶具", "goods", "燃气软管及灶具", 0},
	{"living_security", "室内电线老化裸露，存在用电隐患", "immediate", "red", true, []string{"住房和城乡建设局"}, "已联系电工更换老化线路", "service", "线路改造", 0},
	{"living_security", "独居老人担心突发疾病无人知晓，需安装一键呼叫设备", "coordinated", "yellow", false, []string{"民政局"}, "已安装一键呼叫设备并联系子女增加视频通话", "goods", "一键呼叫设备", 0},
	{"living_security", "房屋漏雨，需修缮", "coordinated", "yellow", false, []string{"住房和城乡建设局"}, "纳入农村危房改造，已完成屋面修缮", "money", "危房改造补助", 12000},
	{"living_security", "高龄残疾老人住六楼无电梯，出行困难", "long_term", "yellow", false, []string{"住房和城乡建设局"}, "经社区、街道、住建部门联动，加装电梯已完工", "service", "既有住宅加装电梯", 0},
	{"living_security", "轻度认知障碍，经常忘记关火", "coordinated", "red", true, []string{"消防救援大队"}, "已安装智能烟感报警器，安排邻居每日敲门提醒", "goods", "智能烟感报警器", 0},
	{"health_medical", "慢性病需长期服药，行动不便无法取药", "long_term", "green", false, []string{"卫生健康局"}, "家庭医生每月上门送药", "service", "家庭医生上门服务", 0},
	{"health_medical", "未签约家庭医生，需上门健康服务", "coordinated", "green", false, []string{"卫生健康局"}, "已签约家庭医生团队", "service", "家庭医生签约", 0},
	{"health_medical", "因病致贫，需申请大病医疗救助", "coordinated", "yellow", false, []string{"医疗保障局", "民政局"}, "已申请医疗救助，报销后自付部分大幅减少", "money", "医疗救助金", 8000},
	{"health_medical", "严重精神障碍患者停药，病情不稳定", "immediate", "red", true, []string{"卫生健康局", "公安局派出所"}, "五位一体小组上门，协助住院治疗", "service", "精防医生随访及住院治疗", 0},
	{"health_medical", "脑梗后需康复训练", "long_term", "yellow", false, []string{"残疾人联合会", "卫生健康局"}, "已链接康复机构开展康复训练", "service", "康复训练", 0},
	{"social_integration", "家庭主要劳动力失业，需要就业帮扶", "coordinated", "yellow", false, []string{"人力资源和社会保障局"}, "已推荐公益性岗位，上岗就业", "service", "公益性岗位", 0},
	{"social_integration", "残疾青年希望找到合适工作", "long_term", "green", false, []string{"残疾人联合会", "人力资源和社会保障局"}, "参加职业技能培训后由爱心企业录用", "service", "职业技能培训及就业推荐", 0},
	{"social_integration", "困境儿童学习困难，需要课后辅导", "long_term", "yellow", false, []string{"教育局"}, "安排志愿者每周两次课后辅导", "service", "志愿者课后辅导", 0},
	{"social_integration", "孩子上学需要教育资助", "coordinated", "yellow", false, []string{"教育局", "慈善会"}, "已申请助学金", "money", "助学金", 3000},
	{"social_integration", "残疾儿童需要特殊教育学位", "coordinated", "yellow", false, []string{"教育局", "残疾人联合会"}, "已联系特殊教育学校争取入学名额", "policy", "特殊教育学位", 0},
}

// departmentName is the county-level organisation a department-level referral goes to.
func departmentName(short string) string {
	switch short {
	case "公安局派出所":
		return county + "公安局新丰派出所"
	case "慈善会", "残疾人联合会", "妇女联合会":
		return county + short
	case "消防救援大队":
		return county + "消防救援大队"
	}
	return county + short
}

var progressTexts = []string{"已电话联系住户，了解最新情况", "已上门核实情况，收集相关材料", "已与相关部门沟通，等待答复", "已协助填写申请表格",
	"志愿者已上门服务一次", "社工开展第一次个案辅导", "已向社区书记汇报，协调解决", "住户反映情况有所好转"}
var longTermTexts = []string{"本月跟进：服务按计划开展，住户情绪稳定", "本月跟进：已完成一次上门服务", "本月跟进：根据需求调整服务方案",
	"本月跟进：电话回访，住户反馈良好"}
var extensionReasons = []string{"需等待部门审批结果，申请延期", "住户住院，材料暂未收齐，申请延期", "涉及多部门协调，申请延期5个工作日"}
var declineReasons = []string{"不属于本部门职责范围，建议上报街道协调", "材料不全，请补充后重新提交", "不符合现行政策条件"}
var escalateReasons = []string{"社区层面无法解决，上报街道协调", "街道协调后需职能部门办理", "部门未在时限内接收，上报督办"}
var cancelReasons = []string{"问题已通过其他渠道解决", "住户已迁出本辖区"}
var revisitFailTexts = []string{"回访发现问题再次出现", "住户反映服务中断"}
var satisfactionComments = map[int][]string{
	5: {"非常满意，感谢社区", "很满意，解决得很及时", "感谢网格员的耐心帮助"},
	4: {"比较满意", "基本解决了问题"},
	3: {"一般，办理时间较长", "还行"},
	2: {"不太满意，等了很久", "问题只解决了一部分"},
	1: {"不满意，问题没有真正解决"},
}
var unresolvedCloseReasons = []string{"与已登记问题重复，合并处理", "住户表示问题已自行解决，不再需要帮助"}

// placeName returns the i-th of up to 900 distinct two-character names,
// shuffled by perm.
func placeName(perm []int, i int) string {
	k := perm[i%len(perm)]
	return placeFirst[k%len(placeFirst)] + placeSecond[k/len(placeFirst)]
}

// DepartmentSupervisors names, for every county-level organisation the
// town refers problems to, the person who supervises its referrals (the
// deadline watcher names them on the acceptance and completion alerts of
// referrals addressed to it, decision 0094). Deterministic: the same names
// for every town.
func DepartmentSupervisors() map[string]string {
	surnames := []string{"周", "吴", "郑", "孙", "钱", "冯", "陈", "褚", "卫", "蒋", "沈", "韩", "杨", "朱", "秦"}
	var names []string
	seen := map[string]bool{}
	for _, it := range problemCatalog {
		for _, d := range it.dept {
			if n := departmentName(d); !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	out := make(map[string]string, len(names))
	for i, n := range names {
		out[n] = surnames[i%len(surnames)] + "科长"
	}
	return out
}
