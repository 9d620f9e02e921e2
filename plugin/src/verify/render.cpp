#include "nodeboot/plugin/verify/render.hpp"

#include <algorithm>
#include <ostream>

#include <nlohmann/json.hpp>

namespace nodeboot::plugin::verify {
namespace {

std::string cell(Verdict v) {
  switch (v) {
    case Verdict::pass:
      return "ok";
    case Verdict::fail:
      return "FAIL";
    case Verdict::not_applicable:
      return "n/a";
    case Verdict::skipped:
      return "-";
  }
  return "?";
}

std::string upper(std::string_view s) {
  std::string u(s);
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return u;
}

// The MESSAGE column: failed checks' reasons (wide: every check's).
std::string message(const NodeReport& r, bool wide) {
  std::string m;
  for (Check c : all_checks) {
    const auto& res = r.at(c);
    if (res.verdict == Verdict::skipped || res.reason.empty()) continue;
    if (!wide && res.verdict != Verdict::fail) continue;
    m += (m.empty() ? "" : "; ") + std::string(check_name(c)) + ": " + res.reason;
  }
  return m;
}

}  // namespace

void render_table(std::ostream& out, const std::vector<NodeReport>& reports, const CheckSet& checks, bool wide) {
  // --deep says where its verdicts came from; without it every row is "daemonset".
  const bool probed =
      std::any_of(reports.begin(), reports.end(), [](const auto& r) { return r.source != "daemonset"; });
  std::vector<std::string> header{"NODE"};
  for (Check c : all_checks)
    if (checks.has(c)) header.emplace_back(upper(check_name(c)));
  if (probed) header.emplace_back("SOURCE");
  if (wide) header.insert(header.end(), {"OS-IMAGE", "KERNEL", "ISCSI-POD", "GPU-POD"});
  if (wide && probed) header.emplace_back("PROBE-POD");
  header.emplace_back("MESSAGE");

  std::vector<std::vector<std::string>> rows;
  rows.reserve(reports.size());
  for (const auto& r : reports) {
    std::vector<std::string> row{r.name};
    for (Check c : all_checks)
      if (checks.has(c)) row.push_back(cell(r.at(c).verdict));
    if (probed) row.push_back(r.source);
    if (wide)
      row.insert(row.end(), {r.os_image, r.kernel, r.iscsi_pod.empty() ? "<none>" : r.iscsi_pod,
                             r.gpu_pod.empty() ? "<none>" : r.gpu_pod});
    if (wide && probed) row.push_back(r.probe_pod.empty() ? "<none>" : r.probe_pod);
    row.push_back(message(r, wide));
    rows.push_back(std::move(row));
  }
  // kubectl's layout: columns padded to the widest cell plus three spaces, the last unpadded.
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print(header);
  for (const auto& row : rows) print(row);
}

nlohmann::json report_document(const std::vector<NodeReport>& reports, const CheckSet& checks, const Summary& summary) {
  nlohmann::json doc{{"apiVersion", "nodeboot.io/v1alpha1"}, {"kind", "VerifyReport"}};
  auto& names = doc["checks"] = nlohmann::json::array();
  for (Check c : all_checks)
    if (checks.has(c)) names.push_back(check_name(c));
  nlohmann::json failed_by = nlohmann::json::object();
  for (Check c : all_checks)
    if (checks.has(c)) failed_by[std::string(check_name(c))] = summary.failed_by_check[static_cast<size_t>(c)];
  doc["summary"] = {{"nodes", summary.nodes},
                    {"passed", summary.passed},
                    {"failed", summary.failed},
                    {"failedByCheck", failed_by},
                    {"text", summary.line()}};
  auto& nodes = doc["nodes"] = nlohmann::json::array();
  for (const auto& r : reports) {
    nlohmann::json n{{"name", r.name}, {"passed", !r.failed()}, {"source", r.source}};
    for (Check c : all_checks)
      if (checks.has(c))
        n["checks"][std::string(check_name(c))] = {{"verdict", verdict_name(r.at(c).verdict)},
                                                   {"reason", r.at(c).reason}};
    n["osImage"] = r.os_image;
    n["kernel"] = r.kernel;
    n["iscsiPod"] = r.iscsi_pod;
    n["gpuPod"] = r.gpu_pod;
    if (r.source == "probe") n["probePod"] = r.probe_pod;
    nodes.push_back(std::move(n));
  }
  return doc;
}

}  // namespace nodeboot::plugin::verify
