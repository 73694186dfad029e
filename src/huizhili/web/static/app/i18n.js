// Every string a person reads, in Chinese first and English; pages name them by key (data-i18n).
"use strict";

const MESSAGES = {
  zh: {
    brand: "汇治理", subtitle: "城市运行一网统管", other_language: "English", district_view: "返回区级",
    sign_in_title: "工作人员登录", username: "用户名", password: "密码", sign_in: "登录", sign_out: "退出",
    sign_in_hint: "账号由区管理员开设（huizhili user add）。", sign_in_failed: "用户名或密码不正确",
    counts: "底数清", alerts: "预警", cases: "案件", no_alerts: "当前无预警", no_cases: "暂无案件",
    buildings: "建筑", population: "人口", facilities: "设施", devices: "感知设备", areas: "下级区域",
    acknowledge: "签收", acknowledged: "已签收", overdue: "已超期", due_in: "剩余", hours: "小时", minutes: "分钟",
    district: "全区", map: "地图", level_blue: "蓝色", level_yellow: "黄色", level_orange: "橙色", level_red: "红色",
    vitals: "城市体征", no_vitals: "暂无体征数据",
    stage_filing: "待立案", stage_dispatch: "待派遣", stage_acceptance: "待签收", stage_handling: "处置中",
    stage_verification: "待核查", stage_closing: "待结案", stage_suspended: "挂起", load_failed: "数据加载失败",
    citizen_title: "汇治理 · 市民服务", nearest: "附近服务", service_kind: "服务类型", use_my_position: "用我的位置查找",
    or_tap_map: "或在地图上点选位置", kind_health_centre: "社区卫生服务中心", kind_metro_station: "地铁站", kind_park: "公园绿地",
    walk: "步行", metres: "米", open_now: "正在开放", closed_now: "暂停服务", no_position: "无法获取您的位置，请在地图上点选",
    show_route: "在地图上显示步行路线",
    follow: "查询办理进度", tracking_number: "受理编号", look_up: "查询", no_such_case: "未找到该编号的办件", state: "状态",
    league: "街镇办理排行", rank: "名次", street: "街镇", on_time: "按期办结", closure: "办结率",
    case_detail: "案件详情", case_number: "编号", case_state: "状态", case_category: "类别", case_unit: "承办单位",
    case_reporter: "反映人", case_phone: "联系电话", case_received: "受理时间", case_reports: "来电/反映次数",
    help_title: "为老服务一键通", help_button: "一键求助", help_sent: "求助已送达，编号", help_coming: "工作人员已接单，正在赶来",
    help_waiting: "正在通知社区工作人员…", help_waiting_unit: "正在通知{unit}…", help_coming_unit: "{unit}已接单，工作人员正在赶来",
    report_title: "反映问题", resident_sign_in_hint: "反映问题、一键求助请先登录市民账号。",
    report_category: "问题类别", report_description: "问题描述", report_place_hint: "位置：用上方地图点选的位置，或您的当前位置",
    report_photo: "照片（可选）", report_submit: "提交", reported: "已受理，受理编号", my_cases: "我的办件",
    help_case_title: "为老服务一键通求助", no_place: "请先在地图上点选位置或允许获取位置",
    comma: "，", colon: "：", view: "视图",
    role_district_admin: "区管理员", role_district_commander: "区指挥长", role_street_operator: "街镇值班员",
    role_department_handler: "委办局处置人员", role_hotline_operator: "12345话务员", role_committee_worker: "居委会工作人员",
    role_grid_officer: "网格员", role_analyst: "分析员", role_service: "服务账号",
    targets: "目标任务", target_met: "已达成", target_on_track: "进度正常", target_at_risk: "有风险", target_late: "滞后",
    unit_roads: "条", unit_km: "公里", unit_hubs: "个", unit_households: "户", unit_projects: "项", unit_count: "个", unit_m2: "平方米",
    resolve: "解除", open_case: "立案", case_opened: "已立案，编号", already_a_case: "该预警已立案",
    back_to: "返回", committees: "居委会", charts: "趋势与考核", tab_vital: "体征趋势", tab_kpis: "案件考核", tab_coverage: "生活圈覆盖",
    show_trend: "查看趋势", no_history: "暂无历史数据", last_week: "近7天", hourly_values: "个小时值", no_permission: "无权查看",
    no_kpis: "近30天暂无案件", kpis_chart: "各街镇按期办结率与办结率", last_30_days: "近30天", no_run: "尚无生活圈分析",
    coverage_chart: "各街镇居民步行可达覆盖率", target: "目标", layer_network: "步行路网", layer_coverage: "生活圈覆盖",
    live: "实时", layers: "图层", layer_buildings: "建筑", layer_facilities: "设施", layer_devices: "感知设备", layer_cases: "案件", layer_committees: "居委会", layer_density: "案件密度",
    device_kind: "设备类型", latest_value: "最新值", device_online: "在线状态", online: "在线", offline: "离线", not_watched: "未监测",
  },
  en: {
    brand: "Huizhili", subtitle: "City operations", other_language: "中文", district_view: "Back to the district",
    sign_in_title: "Staff sign-in", username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    sign_in_hint: "Accounts are opened by the district's administrators (huizhili user add).",
    sign_in_failed: "Wrong username or password",
    counts: "The base in numbers", alerts: "Alerts", cases: "Cases", no_alerts: "No alerts now", no_cases: "No cases",
    buildings: "Buildings", population: "Population", facilities: "Facilities", devices: "Sensors", areas: "Areas within",
    acknowledge: "Acknowledge", acknowledged: "Acknowledged", overdue: "Overdue", due_in: "Due in", hours: "h", minutes: "min",
    district: "District", map: "Map", level_blue: "Blue", level_yellow: "Yellow", level_orange: "Orange", level_red: "Red",
    vitals: "Vital signs", no_vitals: "No vital signs yet",
    stage_filing: "To file", stage_dispatch: "To dispatch", stage_acceptance: "To accept", stage_handling: "Being handled",
    stage_verification: "To verify", stage_closing: "To close", stage_suspended: "Suspended", load_failed: "Could not load",
    citizen_title: "Huizhili · for residents", nearest: "Services near you", service_kind: "Service",
    use_my_position: "Find from my position", or_tap_map: "or tap a place on the map", kind_health_centre: "Community health centre",
    kind_metro_station: "Metro station", kind_park: "Park or garden", walk: "Walk", metres: "m", open_now: "Open now",
    closed_now: "Not serving now", no_position: "Your position is not available; tap a place on the map",
    show_route: "Show the walk on the map",
    follow: "Follow your case", tracking_number: "Tracking number", look_up: "Look up", no_such_case: "No case has this number",
    state: "State", league: "Streets' league table", rank: "Rank", street: "Street", on_time: "On time", closure: "Closed",
    case_detail: "Case", case_number: "Number", case_state: "State", case_category: "Category", case_unit: "Unit",
    case_reporter: "Reported by", case_phone: "Phone", case_received: "Received", case_reports: "Reports",
    help_title: "Help for the elderly, one button", help_button: "Call for help", help_sent: "Your call arrived, number",
    help_coming: "Someone has taken it and is on the way", help_waiting: "Telling the community's staff…",
    help_waiting_unit: "Telling {unit}…", help_coming_unit: "{unit} has taken it; someone is on the way",
    report_title: "Report a problem", resident_sign_in_hint: "Sign in with your resident's account to report or call for help.",
    report_category: "What kind of problem", report_description: "What is wrong",
    report_place_hint: "Where: the place you tapped on the map above, or your position", report_photo: "Photo (optional)",
    report_submit: "Send", reported: "Received, tracking number", my_cases: "My reports", help_case_title: "Call for help (one button)",
    no_place: "Tap a place on the map or allow your position first",
    comma: ", ", colon: ": ", view: "View",
    role_district_admin: "District administrator", role_district_commander: "District commander", role_street_operator: "Street operator",
    role_department_handler: "Department handler", role_hotline_operator: "12345 operator", role_committee_worker: "Committee staff",
    role_grid_officer: "Grid officer", role_analyst: "Analyst", role_service: "Service account",
    targets: "Targets", target_met: "Met", target_on_track: "On track", target_at_risk: "At risk", target_late: "Late",
    unit_roads: "roads", unit_km: "km", unit_hubs: "hubs", unit_households: "households", unit_projects: "projects", unit_count: "",
    unit_m2: "m²",
    resolve: "Resolve", open_case: "Open a case", case_opened: "Case opened, number", already_a_case: "This alert already is a case",
    back_to: "Back to ", committees: "Residential committees", charts: "Trends and performance", tab_vital: "Vital sign",
    tab_kpis: "Case KPIs", tab_coverage: "Life circle", show_trend: "Show its trend", no_history: "no history yet",
    last_week: "last 7 days", hourly_values: "hourly values", no_permission: "Not permitted", no_kpis: "No cases in the last 30 days",
    kpis_chart: "On time and closed, per street", last_30_days: "last 30 days", no_run: "No life-circle analysis yet",
    coverage_chart: "Residents within walking distance, per street", target: "target", layer_network: "Walk network",
    layer_coverage: "Life-circle coverage",
    live: "Live", layers: "Layers", layer_buildings: "Buildings", layer_facilities: "Facilities", layer_devices: "Sensors",
    layer_cases: "Cases", layer_committees: "Committees", layer_density: "Case density",
    device_kind: "Kind", latest_value: "Latest value", device_online: "Online", online: "Online", offline: "Offline",
    not_watched: "Not watched",
  },
};

/** The language in use: the address's ?lang=, else the one chosen before, else Chinese. */
function language() {
  const asked = new URLSearchParams(location.search).get("lang");
  const chosen = asked || localStorage.getItem("huizhili.lang") || "zh";
  return chosen in MESSAGES ? chosen : "zh";
}

/** The text of ``key`` in the language in use. */
function t(key) {
  return MESSAGES[language()][key] ?? MESSAGES.zh[key] ?? key;
}

/** The text of ``key``, or ``fallback`` where the page has none: a district's own kind or unit, as it wrote it. */
function termOr(key, fallback) {
  return MESSAGES[language()][key] ?? MESSAGES.zh[key] ?? fallback;
}

/** Write every element's text from its data-i18n key, and the page's language. */
function translatePage() {
  document.documentElement.lang = language() === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of document.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
}

function switchLanguage() {
  localStorage.setItem("huizhili.lang", language() === "zh" ? "en" : "zh");
  const address = new URL(location.href);
  address.searchParams.delete("lang");
  location.replace(address);
}
