#include "scheduler/dra/allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>

namespace fairway::dra {

// --- pools ---

namespace {

bool has_duplicate_names(const std::vector<const ResourceSlice*>& slices) {
  std::set<std::string_view> names;
  for (const ResourceSlice* slice : slices) {
    for (const Device& device : slice->devices) {
      if (!names.insert(device.name).second) return true;
    }
  }
  return false;
}

}  // namespace

DevicePools::DevicePools(const std::vector<ResourceSlice>& slices) {
  std::map<std::pair<std::string, std::string>, Pool> by_key;
  for (const ResourceSlice& slice : slices) {
    Pool& pool = by_key[{slice.driver, slice.pool.name}];
    pool.driver = slice.driver;
    pool.name = slice.pool.name;
    pool.slices.push_back(&slice);
  }
  for (auto& [key, pool] : by_key) {
    std::sort(pool.slices.begin(), pool.slices.end(),
              [](const ResourceSlice* a, const ResourceSlice* b) { return a->name < b->name; });
    for (const ResourceSlice* slice : pool.slices) {
      pool.slice_begin.push_back(pool.devices.size());
      pool.slice_has_duplicates.push_back(has_duplicate_names({slice}));
      for (const Device& device : slice->devices) {
        pool.devices.push_back(
            CandidateDevice{DeviceId{pool.driver, pool.name, device.name}, &device, slice, 0});
      }
    }
    pool.slice_begin.push_back(pool.devices.size());
    const size_t index = pools_.size();
    pools_.push_back(std::move(pool));
    bool shared = false;
    std::set<std::string_view> nodes;
    for (const ResourceSlice* slice : pools_.back().slices) {
      if (!slice->node_name.empty()) {
        if (nodes.insert(slice->node_name).second) node_pools_[slice->node_name].push_back(index);
      } else {
        shared = true;
      }
    }
    if (shared) shared_pools_.push_back(index);
  }
  for (Pool& pool : pools_) {
    for (CandidateDevice& device : pool.devices) {
      device.index = all_devices_.size();
      all_devices_.push_back(&device);
    }
  }
}

// As kube-scheduler's GatherPools: of a pool, only the slices that reach the node count; among
// them the latest generation; the pool is incomplete unless their number is its
// resourceSliceCount, and invalid when a device name repeats.
DevicePools::Visible DevicePools::visible_on(std::string_view node_name,
                                             const SelectorMatches& selector_matches) const {
  std::vector<size_t> indices = shared_pools_;
  if (auto it = node_pools_.find(node_name); it != node_pools_.end()) {
    indices.insert(indices.end(), it->second.begin(), it->second.end());
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  }
  Visible out;
  std::vector<size_t> targeting;  // slice positions in the pool
  for (size_t index : indices) {
    const Pool& pool = pools_[index];
    targeting.clear();
    int64_t generation = 0;
    for (size_t i = 0; i < pool.slices.size(); ++i) {
      const ResourceSlice& slice = *pool.slices[i];
      const bool targets = slice.all_nodes || slice.node_name == node_name ||
                           (!slice.node_selector.empty() && selector_matches &&
                            selector_matches(slice.node_selector));
      if (!targets || (!targeting.empty() && slice.pool.generation < generation)) continue;
      if (targeting.empty() || slice.pool.generation > generation) {
        targeting.clear();  // outdated: the driver is replacing them
        generation = slice.pool.generation;
      }
      targeting.push_back(i);
    }
    if (targeting.empty()) continue;
    const int64_t expected = pool.slices[targeting.front()]->pool.resource_slice_count;
    if (static_cast<int64_t>(targeting.size()) != expected) {
      out.incomplete_pools.push_back(pool.driver + "/" + pool.name);
      continue;
    }
    bool invalid = false;
    for (size_t i : targeting) invalid = invalid || pool.slice_has_duplicates[i];
    if (!invalid && targeting.size() > 1) {
      std::vector<const ResourceSlice*> chosen;
      for (size_t i : targeting) chosen.push_back(pool.slices[i]);
      invalid = has_duplicate_names(chosen);
    }
    if (invalid) {
      out.invalid_pools.push_back(pool.driver + "/" + pool.name);
      continue;
    }
    for (size_t i : targeting) {
      for (size_t d = pool.slice_begin[i]; d < pool.slice_begin[i + 1]; ++d) {
        out.devices.push_back(&pool.devices[d]);
      }
    }
  }
  return out;
}

std::function<std::optional<std::string>(const CandidateDevice&)> island_by_attribute(
    std::string attribute) {
  return
      [attribute = std::move(attribute)](const CandidateDevice& d) -> std::optional<std::string> {
        auto it = d.device->attributes.find(attribute);
        if (it == d.device->attributes.end()) return std::nullopt;
        return std::visit(
            [](const auto& v) -> std::string {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::string>)
                return "s:" + v;
              else if constexpr (std::is_same_v<T, Version>)
                return "v:" + v.text;
              else if constexpr (std::is_same_v<T, bool>)
                return v ? "b:1" : "b:0";
              else
                return "i:" + std::to_string(v);
            },
            it->second);
      };
}

namespace {

std::string claim_key(const ResourceClaim& claim) {
  return claim.namespace_.empty() ? claim.name : claim.namespace_ + "/" + claim.name;
}

std::string device_key(const DeviceId& id) {
  return fmt::format("{}/{}/{}", id.driver, id.pool, id.device);
}

AllocationFailure invalid(std::string message) {
  return AllocationFailure{AllocationFailure::Kind::kInvalid, std::move(message)};
}
AllocationFailure unschedulable(std::string_view message) {
  return AllocationFailure{AllocationFailure::Kind::kUnschedulable, std::string(message)};
}

// One way to satisfy a request: `exactly`, or one `firstAvailable` entry.
struct Choice {
  size_t id = 0;             // index into the selectable cache
  std::string result_name;   // "request" or "request/subrequest"
  std::string request_name;  // the request's own name
  const DeviceChoice* spec = nullptr;
  const DeviceClass* device_class = nullptr;
  std::vector<std::shared_ptr<const CelProgram>> class_selectors;
  std::vector<std::shared_ptr<const CelProgram>> request_selectors;
  size_t num_devices = 0;
  std::vector<size_t> all_devices;  // mode All: the candidates, fixed up front
  bool infeasible = false;          // mode All: no device, or more than a claim may hold
};

struct MatchAttribute {
  std::set<std::string, std::less<>> requests;  // empty: all requests of the claim
  std::string attribute;
  const AttributeValue* value = nullptr;  // of the first device in the set
  int count = 0;

  bool applies(const Choice& choice) const {
    return requests.empty() || requests.contains(choice.request_name) ||
           requests.contains(choice.result_name);
  }
};

struct ClaimPlan {
  size_t index = 0;  // in the caller's claims
  const ResourceClaim* claim = nullptr;
  std::vector<std::vector<Choice>> requests;  // per request: its choices, in order
  std::vector<MatchAttribute> constraints;
};

struct Pick {
  size_t candidate = 0;
  const Choice* choice = nullptr;
};

}  // namespace

namespace {

// The depth-first search over the pod's unallocated claims, request by request, device by
// device. Within one request devices are taken in increasing candidate order: a request's
// devices are a set, so the other orders would only repeat the same solutions.
class Search {
 public:
  // `islands`: the island of each device by CandidateDevice::index (-1: none); empty: no
  // island preference.
  Search(const std::vector<const CandidateDevice*>& candidates, const DeviceSet& allocated,
         std::vector<ClaimPlan>& plans, size_t num_choices, const AllocatorOptions& options,
         const std::vector<int>& islands)
      : candidates_(candidates),
        plans_(plans),
        options_(options),
        selectable_(num_choices * candidates.size(), kUnknown),
        taken_(candidates.size(), -1),
        admin_taken_(candidates.size(), 0),
        allocated_(candidates.size(), false),
        picks_(plans.size()),
        island_(candidates.size(), -1) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      allocated_[i] = allocated.contains(candidates[i]->id);
    }
    if (!islands.empty()) assign_islands(islands);
  }

  // Runs the search; afterwards best() holds the solution, if any.
  void run() {
    if (!prefilter_all_devices()) return;
    descend(0, 0, kNoChoice, 0, 0);
  }

  const std::optional<std::vector<std::vector<Pick>>>& best() const { return best_; }
  int best_islands() const { return best_islands_; }
  int64_t steps() const { return steps_; }
  bool exhausted() const { return exhausted_; }
  std::optional<AllocationFailure>& error() { return error_; }

 private:
  static constexpr int8_t kUnknown = -1;
  static constexpr size_t kNoChoice = static_cast<size_t>(-1);

  // Fixes each All-mode choice's devices up front, as kube-scheduler does.
  bool prefilter_all_devices() {
    for (ClaimPlan& plan : plans_) {
      for (auto& choices : plan.requests) {
        for (Choice& choice : choices) {
          if (choice.spec->allocation_mode != AllocationMode::kAll) continue;
          for (size_t c = 0; c < candidates_.size(); ++c) {
            auto ok = selectable(choice, c, *plan.claim);
            if (!ok) return false;
            if (*ok) choice.all_devices.push_back(c);
          }
          choice.num_devices = choice.all_devices.size();
          choice.infeasible =
              choice.all_devices.empty() || choice.all_devices.size() > kAllocationResultsMaxSize;
        }
      }
    }
    return true;
  }

  // Numbers the islands of this node's candidates 0..n-1 (a device without one is its own).
  void assign_islands(const std::vector<int>& islands) {
    std::vector<int> seen;  // global island id by local id
    for (size_t i = 0; i < candidates_.size(); ++i) {
      const int global = islands[candidates_[i]->index];
      auto it = global < 0 ? seen.end() : std::find(seen.begin(), seen.end(), global);
      if (it == seen.end()) it = seen.insert(seen.end(), global);
      island_[i] = static_cast<int>(it - seen.begin());
    }
    island_use_.assign(seen.size(), 0);
  }

  // Does candidate `c` pass the class's and the request's selectors? Cached per choice.
  tl::expected<bool, std::monostate> selectable(const Choice& choice, size_t c,
                                                const ResourceClaim& claim) {
    int8_t& cached = selectable_[choice.id * candidates_.size() + c];
    if (cached != kUnknown) return cached == 1;
    const CandidateDevice& device = *candidates_[c];
    const DeviceView view{device.id.driver, *device.device};
    // `owner` ("class gpu", "claim team/x") is only formatted for an error.
    auto run = [&](const auto& programs, std::string_view kind,
                   const std::string& name) -> tl::expected<bool, std::monostate> {
      for (size_t i = 0; i < programs.size(); ++i) {
        auto matches = programs[i]->evaluate(view);
        if (!matches) {
          error_ = invalid(fmt::format("{} {}: selector #{} on device {}: CEL runtime error: {}",
                                       kind, name, i, device_key(device.id), matches.error()));
          return tl::unexpected(std::monostate{});
        }
        if (!*matches) return false;
      }
      return true;
    };
    auto by_class = run(choice.class_selectors, "class", choice.device_class->name);
    if (!by_class) return by_class;
    bool result = *by_class;
    if (result) {
      auto by_request = run(choice.request_selectors, "claim", claim_key(claim));
      if (!by_request) return by_request;
      result = *by_request;
    }
    cached = result ? 1 : 0;
    return result;
  }

  bool usable(size_t c, const Choice& choice, size_t claim) const {
    if (choice.spec->admin_access) {
      // Admin access may share devices with other claims, but not within its own claim.
      for (const Pick& pick : picks_[claim]) {
        if (pick.candidate == c) return false;
      }
      return true;
    }
    return !allocated_[c] && taken_[c] == -1 && admin_taken_[c] == 0;
  }

  // Adds the device to the claim's constraints; false (nothing changed) when one refuses it.
  bool constrain(ClaimPlan& plan, const Choice& choice, size_t c) {
    const Device& device = *candidates_[c]->device;
    size_t added = 0;
    for (; added < plan.constraints.size(); ++added) {
      MatchAttribute& m = plan.constraints[added];
      if (!m.applies(choice)) continue;
      auto it = device.attributes.find(m.attribute);
      if (it == device.attributes.end() || (m.count > 0 && !(*m.value == it->second))) break;
      if (m.count++ == 0) m.value = &it->second;
    }
    if (added == plan.constraints.size()) return true;
    unconstrain(plan, choice, added);
    return false;
  }

  void unconstrain(ClaimPlan& plan, const Choice& choice, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      MatchAttribute& m = plan.constraints[i];
      if (m.applies(choice) && --m.count == 0) m.value = nullptr;
    }
  }

  void place(size_t claim, const Choice& choice, size_t c) {
    picks_[claim].push_back(Pick{c, &choice});
    if (choice.spec->admin_access) {
      ++admin_taken_[c];
    } else {
      taken_[c] = static_cast<int>(claim);
    }
    if (!island_use_.empty() && island_use_[island_[c]]++ == 0) ++islands_;
  }

  void unplace(size_t claim, const Choice& choice, size_t c) {
    picks_[claim].pop_back();
    if (choice.spec->admin_access) {
      --admin_taken_[c];
    } else {
      taken_[c] = -1;
    }
    if (!island_use_.empty() && --island_use_[island_[c]] == 0) --islands_;
    unconstrain(plans_[claim], choice, plans_[claim].constraints.size());
  }

  // Records a complete solution; true when the search can stop.
  bool record() {
    ++solutions_;
    if (!best_ || islands_ < best_islands_) {
      best_ = picks_;
      best_islands_ = islands_;
    }
    return island_use_.empty() || best_islands_ <= 1;
  }

  // True when the search must stop (done, error, out of steps).
  bool descend(size_t claim, size_t request, size_t choice_index, size_t device, size_t next) {
    if (++steps_ > options_.max_steps) {
      exhausted_ = true;
      return true;
    }
    if (claim == plans_.size()) return record();
    ClaimPlan& plan = plans_[claim];
    if (request == plan.requests.size()) return descend(claim + 1, 0, kNoChoice, 0, 0);
    std::vector<Choice>& choices = plan.requests[request];
    if (choice_index == kNoChoice) {
      // firstAvailable: a later choice only when no solution exists with an earlier one.
      for (size_t i = 0; i < choices.size(); ++i) {
        if (choices[i].infeasible) continue;
        const int64_t before = solutions_;
        if (descend(claim, request, i, 0, 0)) return true;
        if (solutions_ > before) return false;
      }
      return false;
    }
    const Choice& choice = choices[choice_index];
    if (device == choice.num_devices) return descend(claim, request + 1, kNoChoice, 0, 0);
    if (choice.spec->allocation_mode == AllocationMode::kAll) {
      return descend_all(claim, request, choice_index, device);
    }
    for (size_t c = next; c < candidates_.size(); ++c) {
      if (!usable(c, choice, claim)) continue;
      auto ok = selectable(choice, c, *plan.claim);
      if (!ok) return true;
      if (!*ok || !constrain(plan, choice, c)) continue;
      place(claim, choice, c);
      // Branch and bound: islands only grow as devices are added.
      const bool hopeless = best_ && !island_use_.empty() && islands_ >= best_islands_;
      const bool stop = !hopeless && descend(claim, request, choice_index, device + 1, c + 1);
      unplace(claim, choice, c);
      if (stop) return true;
    }
    return false;
  }

  // Mode All: the devices are fixed; each must be free and fit the constraints.
  bool descend_all(size_t claim, size_t request, size_t choice_index, size_t device) {
    ClaimPlan& plan = plans_[claim];
    const Choice& choice = plan.requests[request][choice_index];
    const size_t c = choice.all_devices[device];
    if (!usable(c, choice, claim)) return false;
    if (!constrain(plan, choice, c)) {
      error_ = invalid(fmt::format(
          "claim {}, request {}: cannot add device {} because a claim constraint would not be "
          "satisfied",
          claim_key(*plan.claim), choice.result_name, device_key(candidates_[c]->id)));
      return true;
    }
    place(claim, choice, c);
    const bool stop = descend(claim, request, choice_index, device + 1, 0);
    unplace(claim, choice, c);
    return stop;
  }

  const std::vector<const CandidateDevice*>& candidates_;
  std::vector<ClaimPlan>& plans_;
  const AllocatorOptions& options_;
  std::vector<int8_t> selectable_;  // choice × candidate: -1 unknown, 0, 1
  std::vector<int> taken_;          // candidate → claim (in plans_) that took it, -1 free
  std::vector<int> admin_taken_;    // candidate → its admin-access picks in this search
  std::vector<bool> allocated_;     // candidate → allocated to another claim already
  std::vector<std::vector<Pick>> picks_;
  std::vector<int> island_;      // candidate → island id
  std::vector<int> island_use_;  // island id → devices picked on it (empty: no preference)
  int islands_ = 0;
  std::optional<std::vector<std::vector<Pick>>> best_;
  int best_islands_ = 0;
  int64_t solutions_ = 0;
  int64_t steps_ = 0;
  bool exhausted_ = false;
  std::optional<AllocationFailure> error_;
};

}  // namespace

// --- plans: what each unallocated claim asks for, checked and compiled ---

namespace {

class Planner {
 public:
  Planner(const Allocator::Classes& classes, CelCache& cel, const DevicePools::Visible& visible)
      : classes_(classes), cel_(cel), visible_(visible) {}

  tl::expected<ClaimPlan, AllocationFailure> plan(size_t index, const ResourceClaim& claim) {
    ClaimPlan plan;
    plan.index = index;
    plan.claim = &claim;
    size_t min_devices = 0;
    for (const DeviceRequest& request : claim.spec.requests) {
      std::vector<Choice>& choices = plan.requests.emplace_back();
      if (request.exactly) {
        auto choice = make_choice(claim, request.name, "", *request.exactly);
        if (!choice) return tl::unexpected(choice.error());
        choices.push_back(std::move(*choice));
      }
      for (const DeviceSubRequest& sub : request.first_available) {
        auto choice = make_choice(claim, request.name, sub.name, sub.choice);
        if (!choice) return tl::unexpected(choice.error());
        choices.push_back(std::move(*choice));
      }
      size_t fewest = SIZE_MAX;
      for (const Choice& choice : choices) fewest = std::min(fewest, choice.num_devices);
      min_devices += fewest == SIZE_MAX ? 0 : fewest;
    }
    if (min_devices > kAllocationResultsMaxSize) {
      return tl::unexpected(invalid(
          fmt::format("claim {}: number of requested devices {} exceeds the claim limit of {}",
                      claim_key(claim), min_devices, kAllocationResultsMaxSize)));
    }
    for (size_t i = 0; i < claim.spec.constraints.size(); ++i) {
      const DeviceConstraint& constraint = claim.spec.constraints[i];
      if (constraint.match_attribute.empty()) {
        return tl::unexpected(invalid(
            fmt::format("claim {}, constraint #{}: empty constraint (unsupported constraint type?)",
                        claim_key(claim), i)));
      }
      MatchAttribute& m = plan.constraints.emplace_back();
      m.requests.insert(constraint.requests.begin(), constraint.requests.end());
      m.attribute = constraint.match_attribute;
    }
    return plan;
  }

  size_t num_choices() const { return next_id_; }

 private:
  tl::expected<Choice, AllocationFailure> make_choice(const ResourceClaim& claim,
                                                      const std::string& request,
                                                      const std::string& subrequest,
                                                      const DeviceChoice& spec) {
    Choice choice;
    choice.id = next_id_++;
    choice.request_name = request;
    choice.result_name = subrequest.empty() ? request : request + "/" + subrequest;
    choice.spec = &spec;
    auto it = classes_.find(spec.device_class_name);
    if (it == classes_.end()) {
      return tl::unexpected(invalid(fmt::format(
          "claim {}, request {}: could not retrieve device class {}: "
          "deviceclass.resource.k8s.io \"{}\" not found",
          claim_key(claim), choice.result_name, spec.device_class_name, spec.device_class_name)));
    }
    choice.device_class = &it->second;
    if (auto e = compile(it->second.selectors, "class " + it->second.name, choice.class_selectors);
        !e) {
      return tl::unexpected(e.error());
    }
    if (auto e = compile(spec.selectors, "claim " + claim_key(claim), choice.request_selectors);
        !e) {
      return tl::unexpected(e.error());
    }
    if (spec.allocation_mode == AllocationMode::kAll) {
      if (!visible_.incomplete_pools.empty()) {
        return tl::unexpected(unschedulable(fmt::format(
            "claim {}, request {}: asks for all devices, but resource pool {} is currently being "
            "updated",
            claim_key(claim), choice.result_name, visible_.incomplete_pools.front())));
      }
      if (!visible_.invalid_pools.empty()) {
        return tl::unexpected(unschedulable(fmt::format(
            "claim {}, request {}: asks for all devices, but resource pool {} is currently invalid",
            claim_key(claim), choice.result_name, visible_.invalid_pools.front())));
      }
    } else {
      choice.num_devices = static_cast<size_t>(spec.count);
      choice.infeasible = spec.count > static_cast<int64_t>(kAllocationResultsMaxSize);
    }
    return choice;
  }

  tl::expected<void, AllocationFailure> compile(
      const std::vector<std::string>& expressions, const std::string& owner,
      std::vector<std::shared_ptr<const CelProgram>>& out) {
    for (size_t i = 0; i < expressions.size(); ++i) {
      auto program = cel_.get_or_compile(expressions[i]);
      if (!program) {
        return tl::unexpected(invalid(
            fmt::format("{}: selector #{}: CEL compile error: {}", owner, i, program.error())));
      }
      out.push_back(std::move(*program));
    }
    return {};
  }

  const Allocator::Classes& classes_;
  CelCache& cel_;
  const DevicePools::Visible& visible_;
  size_t next_id_ = 0;
};

// status.allocation.nodeSelector: the node itself when a device is node-local, the slices'
// selector when they are reachable from several nodes, nothing for allNodes devices.
std::vector<NodeSelectorTerm> node_selector_of(const std::vector<const ResourceSlice*>& slices,
                                               std::string_view node_name) {
  NodeSelectorTerm by_name;
  by_name.match_fields.push_back(NodeSelectorRequirement{
      "metadata.name", NodeSelectorRequirement::Operator::kIn, {std::string(node_name)}});
  std::vector<const ResourceSlice*> with_selector;
  for (const ResourceSlice* slice : slices) {
    if (!slice->node_name.empty()) return {by_name};
    if (!slice->node_selector.empty() &&
        std::find(with_selector.begin(), with_selector.end(), slice) == with_selector.end()) {
      with_selector.push_back(slice);
    }
  }
  if (with_selector.empty()) return {};
  if (with_selector.size() == 1) return with_selector.front()->node_selector;
  // Several selectors must all hold: single terms AND into one term; ORed terms do not merge,
  // and the node the devices were chosen on is always right.
  NodeSelectorTerm merged;
  for (const ResourceSlice* slice : with_selector) {
    if (slice->node_selector.size() != 1) return {by_name};
    const NodeSelectorTerm& term = slice->node_selector.front();
    merged.match_expressions.insert(merged.match_expressions.end(), term.match_expressions.begin(),
                                    term.match_expressions.end());
    merged.match_fields.insert(merged.match_fields.end(), term.match_fields.begin(),
                               term.match_fields.end());
  }
  return {merged};
}

}  // namespace

// --- the allocator ---

Allocator::Allocator(const DevicePools& pools, const Classes& classes, const DeviceSet& allocated,
                     CelCache& cel, AllocatorOptions options)
    : pools_(pools),
      classes_(classes),
      allocated_(allocated),
      cel_(cel),
      options_(std::move(options)) {
  if (!options_.island_of) return;
  std::map<std::string, int> ids;
  for (const CandidateDevice* device : pools_.all_devices()) {
    auto island = options_.island_of(*device);
    islands_.push_back(island ? ids.emplace(*island, static_cast<int>(ids.size())).first->second
                              : -1);
  }
}

namespace {

// An allocated claim is reused as it is: usable when the pod may join its consumers and the
// node can reach its devices.
std::optional<AllocationFailure> check_allocated(const ResourceClaim& claim,
                                                 const DevicePools::SelectorMatches& matches,
                                                 std::string_view pod_uid) {
  const bool reserved = std::any_of(claim.reserved_for.begin(), claim.reserved_for.end(),
                                    [&](const ConsumerReference& r) { return r.uid == pod_uid; });
  if (!reserved && claim.reserved_for.size() >= kReservedForMaxSize) {
    return unschedulable(kReasonInUse);
  }
  const auto& selector = claim.allocation->node_selector;
  if (!selector.empty() && !(matches && matches(selector))) {
    return unschedulable(kReasonNotAvailableOnNode);
  }
  return std::nullopt;
}

}  // namespace

tl::expected<PodAllocation, AllocationFailure> Allocator::allocate(
    std::string_view node_name, const DevicePools::SelectorMatches& selector_matches,
    const std::vector<const ResourceClaim*>& claims, std::string_view pod_uid) const {
  PodAllocation out;
  out.results.resize(claims.size());
  out.newly_allocated.assign(claims.size(), false);
  std::vector<size_t> pending;
  for (size_t i = 0; i < claims.size(); ++i) {
    const ResourceClaim& claim = *claims[i];
    if (claim.deleting) return tl::unexpected(unschedulable("resourceclaim is being deleted"));
    if (!claim.allocation) {
      pending.push_back(i);
      continue;
    }
    if (auto failure = check_allocated(claim, selector_matches, pod_uid)) {
      return tl::unexpected(*failure);
    }
    out.results[i] = *claim.allocation;
  }
  if (pending.empty()) return out;

  const DevicePools::Visible visible = pools_.visible_on(node_name, selector_matches);
  Planner planner(classes_, cel_, visible);
  std::vector<ClaimPlan> plans;
  for (size_t i : pending) {
    auto plan = planner.plan(i, *claims[i]);
    if (!plan) return tl::unexpected(plan.error());
    plans.push_back(std::move(*plan));
  }
  Search search(visible.devices, allocated_, plans, planner.num_choices(), options_, islands_);
  search.run();
  out.steps = search.steps();
  if (search.error()) return tl::unexpected(*search.error());
  if (!search.best()) {
    if (search.exhausted()) {
      return tl::unexpected(unschedulable(fmt::format("{}: no allocation found within {} steps",
                                                      kReasonCannotAllocate, options_.max_steps)));
    }
    // As kube-scheduler: invalid pools are named only when nothing could be allocated.
    if (!visible.invalid_pools.empty()) {
      return tl::unexpected(unschedulable("invalid resource pools were encountered"));
    }
    return tl::unexpected(unschedulable(kReasonCannotAllocate));
  }
  out.islands = islands_.empty() ? 0 : search.best_islands();
  for (size_t p = 0; p < plans.size(); ++p) {
    AllocationResult& result = out.results[plans[p].index];
    std::vector<const ResourceSlice*> slices;
    for (const Pick& pick : (*search.best())[p]) {
      const CandidateDevice& device = *visible.devices[pick.candidate];
      result.devices.push_back(
          DeviceRequestAllocationResult{pick.choice->result_name, device.id.driver, device.id.pool,
                                        device.id.device, pick.choice->spec->admin_access});
      slices.push_back(device.slice);
    }
    result.node_selector = node_selector_of(slices, node_name);
    out.newly_allocated[plans[p].index] = true;
  }
  return out;
}

}  // namespace fairway::dra
