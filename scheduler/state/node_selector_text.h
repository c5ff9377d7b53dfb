#pragma once
// NodeSelectorRequirement operators as the API writes them, for the edges that encode node
// selectors (claim allocations, simulator manifests).

#include "scheduler/state/model.h"

namespace fairway {

// The operator as the API writes it ("In", "DoesNotExist", ...).
inline const char* operator_name(NodeSelectorRequirement::Operator op) {
  using Op = NodeSelectorRequirement::Operator;
  switch (op) {
    case Op::kIn:
      return "In";
    case Op::kNotIn:
      return "NotIn";
    case Op::kExists:
      return "Exists";
    case Op::kDoesNotExist:
      return "DoesNotExist";
    case Op::kGt:
      return "Gt";
    case Op::kLt:
      return "Lt";
  }
  return "In";
}

}  // namespace fairway
