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
    district: "全区", map: "地图", level_1: "蓝色", level_2: "黄色", level_3: "橙色", level_4: "红色",
    stage_filing: "待立案", stage_dispatch: "待派遣", stage_acceptance: "待签收", stage_handling: "处置中",
    stage_verification: "待核查", stage_closing: "待结案", stage_suspended: "挂起", load_failed: "数据加载失败",
    live: "实时", layers: "图层", layer_buildings: "建筑", layer_facilities: "设施", layer_devices: "感知设备", layer_cases: "案件",
  },
  en: {
    brand: "Huizhili", subtitle: "City operations", other_language: "中文", district_view: "Back to the district",
    sign_in_title: "Staff sign-in", username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    sign_in_hint: "Accounts are opened by the district's administrators (huizhili user add).",
    sign_in_failed: "Wrong username or password",
    counts: "The base in numbers", alerts: "Alerts", cases: "Cases", no_alerts: "No alerts now", no_cases: "No cases",
    buildings: "Buildings", population: "Population", facilities: "Facilities", devices: "Sensors", areas: "Areas within",
    acknowledge: "Acknowledge", acknowledged: "Acknowledged", overdue: "Overdue", due_in: "Due in", hours: "h", minutes: "min",
    district: "District", map: "Map", level_1: "Blue", level_2: "Yellow", level_3: "Orange", level_4: "Red",
    stage_filing: "To file", stage_dispatch: "To dispatch", stage_acceptance: "To accept", stage_handling: "Being handled",
    stage_verification: "To verify", stage_closing: "To close", stage_suspended: "Suspended", load_failed: "Could not load",
    live: "Live", layers: "Layers", layer_buildings: "Buildings", layer_facilities: "Facilities", layer_devices: "Sensors",
    layer_cases: "Cases",
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

/** Write every element's text from its data-i18n key, and the page's language. */
function translatePage() {
  document.documentElement.lang = language() === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

function switchLanguage() {
  localStorage.setItem("huizhili.lang", language() === "zh" ? "en" : "zh");
  const address = new URL(location.href);
  address.searchParams.delete("lang");
  location.replace(address);
}
