#include "datasets/mmlu/subject_categories.h"

#include <map>

namespace qbench {

namespace {

const std::map<std::string, std::string>& mmlu_map() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> r;
    static const char* const kStem[] = {"abstract_algebra", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
          "college_mathematics", "college_physics", "computer_security", "conceptual_physics", "electrical_engineering",
          "elementary_mathematics", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
          "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning"};
    for (const char* s : kStem) r[s] = "STEM";
    static const char* const kHumanities[] = {"formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
          "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios", "philosophy",
          "prehistory", "professional_law", "world_religions"};
    for (const char* s : kHumanities) r[s] = "humanities";
    static const char* const kSocial[] = {"econometrics", "high_school_geography", "high_school_government_and_politics", "high_school_macroeconomics",
          "high_school_microeconomics", "high_school_psychology", "human_sexuality", "professional_psychology",
          "public_relations", "security_studies", "sociology", "us_foreign_policy"};
    for (const char* s : kSocial) r[s] = "social sciences";
    static const char* const kOther[] = {"anatomy", "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging",
          "management", "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting",
          "professional_medicine", "virology"};
    for (const char* s : kOther) r[s] = "other";
    return r;
  }();
  return m;
}

struct CmmluSubject {
  const char* category;
  const char* zh;
};

const std::map<std::string, CmmluSubject>& cmmlu_map() {
  static const std::map<std::string, CmmluSubject> m = {
      {"agronomy", {"Other", "农学"}},
      {"anatomy", {"STEM", "解剖学"}},
      {"ancient_chinese", {"China specific", "古汉语"}},
      {"arts", {"Humanities", "艺术学"}},
      {"astronomy", {"STEM", "天文学"}},
      {"business_ethics", {"Social Science", "商业伦理"}},
      {"chinese_civil_service_exam", {"China specific", "中国公务员考试"}},
      {"chinese_driving_rule", {"China specific", "中国驾驶规则"}},
      {"chinese_food_culture", {"China specific", "中国饮食文化"}},
      {"chinese_foreign_policy", {"China specific", "中国外交政策"}},
      {"chinese_history", {"China specific", "中国历史"}},
      {"chinese_literature", {"China specific", "中国文学"}},
      {"chinese_teacher_qualification", {"China specific", "中国教师资格"}},
      {"clinical_knowledge", {"Other", "临床知识"}},
      {"college_actuarial_science", {"STEM", "大学精算学"}},
      {"college_education", {"Social Science", "大学教育学"}},
      {"college_engineering_hydrology", {"STEM", "大学工程水文学"}},
      {"college_law", {"Humanities", "大学法律"}},
      {"college_mathematics", {"STEM", "大学数学"}},
      {"college_medical_statistics", {"STEM", "大学医学统计"}},
      {"college_medicine", {"Other", "大学医学"}},
      {"computer_science", {"STEM", "计算机科学"}},
      {"computer_security", {"Other", "计算机安全"}},
      {"conceptual_physics", {"STEM", "概念物理学"}},
      {"construction_project_management", {"China specific", "建设工程管理"}},
      {"economics", {"Social Science", "经济学"}},
      {"education", {"Social Science", "教育学"}},
      {"electrical_engineering", {"STEM", "电气工程"}},
      {"elementary_chinese", {"China specific", "小学语文"}},
      {"elementary_commonsense", {"China specific", "小学常识"}},
      {"elementary_information_and_technology", {"Other", "小学信息技术"}},
      {"elementary_mathematics", {"STEM", "初等数学"}},
      {"ethnology", {"China specific", "民族学"}},
      {"food_science", {"Other", "食品科学"}},
      {"genetics", {"STEM", "遗传学"}},
      {"global_facts", {"Humanities", "全球事实"}},
      {"high_school_biology", {"STEM", "高中生物"}},
      {"high_school_chemistry", {"STEM", "高中化学"}},
      {"high_school_geography", {"Social Science", "高中地理"}},
      {"high_school_mathematics", {"STEM", "高中数学"}},
      {"high_school_physics", {"STEM", "高中物理学"}},
      {"high_school_politics", {"China specific", "高中政治"}},
      {"human_sexuality", {"Other", "人类性行为"}},
      {"international_law", {"Humanities", "国际法学"}},
      {"journalism", {"Social Science", "新闻学"}},
      {"jurisprudence", {"Humanities", "法理学"}},
      {"legal_and_moral_basis", {"Other", "法律与道德基础"}},
      {"logical", {"Humanities", "逻辑学"}},
      {"machine_learning", {"STEM", "机器学习"}},
      {"management", {"Social Science", "管理学"}},
      {"marketing", {"Social Science", "市场营销"}},
      {"marxist_theory", {"Humanities", "马克思主义理论"}},
      {"modern_chinese", {"China specific", "现代汉语"}},
      {"nutrition", {"Other", "营养学"}},
      {"philosophy", {"Humanities", "哲学"}},
      {"professional_accounting", {"Social Science", "专业会计"}},
      {"professional_law", {"Humanities", "专业法学"}},
      {"professional_medicine", {"Other", "专业医学"}},
      {"professional_psychology", {"Social Science", "专业心理学"}},
      {"public_relations", {"Social Science", "公共关系"}},
      {"security_study", {"Social Science", "安全研究"}},
      {"sociology", {"Social Science", "社会学"}},
      {"sports_science", {"Other", "体育学"}},
      {"traditional_chinese_medicine", {"China specific", "中医中药"}},
      {"virology", {"STEM", "病毒学"}},
      {"world_history", {"Humanities", "世界历史"}},
      {"world_religions", {"Humanities", "世界宗教"}},
  };
  return m;
}

}  // namespace

std::string mmlu_category(const std::string& subject) {
  auto it = mmlu_map().find(subject);
  return it == mmlu_map().end() ? "" : it->second;
}

std::string cmmlu_category(const std::string& subject) {
  auto it = cmmlu_map().find(subject);
  return it == cmmlu_map().end() ? "" : it->second.category;
}

std::string subject_display_name(const std::string& subject) {
  std::string s = subject;
  for (char& c : s)
    if (c == '_') c = ' ';
  return s;
}

std::string cmmlu_subject_zh(const std::string& subject) {
  auto it = cmmlu_map().find(subject);
  return it == cmmlu_map().end() ? subject_display_name(subject) : it->second.zh;
}

}  // namespace qbench
