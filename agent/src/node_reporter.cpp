#include "nodeboot/agent/node_reporter.hpp"

#include <ostream>

#include <nlohmann/json.hpp>

#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"

namespace nodeboot::agent {

NodeAnnotator::NodeAnnotator(kube::Client& client, std::string node, std::string attempt, std::ostream& log)
    : client_(client), node_(std::move(node)), attempt_(std::move(attempt)), log_(log) {}

void NodeAnnotator::report(const Step& step) {
  nlohmann::json ann = {{std::string(names::ann_state), to_string(step.state)},
                        {std::string(names::ann_progress), std::to_string(step.progress)},
                        {std::string(names::ann_reason), step.reason},
                        {std::string(names::ann_message), step.message},
                        {std::string(names::ann_updated), rfc3339_now()},
                        {std::string(names::ann_attempt), attempt_}};
  auto r = client_.patch(kube::resources::nodes, "", node_, kube::PatchType::merge, {{"metadata", {{"annotations", ann}}}},
                         kube::PatchOptions{.field_manager = std::string(names::agent_field_manager)});
  if (!r) log_ << "nodeboot-agent: cannot annotate node " << node_ << ": " << r.error().message << std::endl;
}

}  // namespace nodeboot::agent
