#pragma once

// verify's output: a table (`-o table|wide`) or a VerifyReport document (`-o json|yaml`).

#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "nodeboot/plugin/verify/checks.hpp"

namespace nodeboot::plugin::verify {

void render_table(std::ostream& out, const std::vector<NodeReport>& reports, const CheckSet& checks, bool wide);

// {"apiVersion":"nodeboot.io/v1alpha1","kind":"VerifyReport","checks":[...],"summary":{...},"nodes":[...]}
nlohmann::json report_document(const std::vector<NodeReport>& reports, const CheckSet& checks, const Summary& summary);

}  // namespace nodeboot::plugin::verify
