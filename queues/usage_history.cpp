#include "queues/usage_history.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

namespace fairway {
namespace {

// Below this a share is written as "0", and a queue holding nothing is forgotten.
constexpr double kNegligibleShare = 5e-7;

double at(const std::vector<double>& values, size_t i) {
  return i < values.size() ? values[i] : 0;
}

}  // namespace

UsageHistory::UsageHistory(int64_t half_life_ms)
    : half_life_ms_(std::max<int64_t>(half_life_ms, 1)),
      tau_ms_(static_cast<double>(half_life_ms_) / std::numbers::ln2) {}

double UsageHistory::decay(int64_t elapsed_ms) const {
  return std::exp2(-static_cast<double>(std::max<int64_t>(elapsed_ms, 0)) /
                   static_cast<double>(half_life_ms_));
}

void UsageHistory::advance(WallMs now, const std::unordered_map<std::string, QueueUsage>& usage,
                           const ResourceVector& capacity) {
  if (started_) now = std::max(now, at_);
  const double d = started_ ? decay(now - at_) : 1.0;
  capacity_.resize(std::max(capacity_.size(), capacity.size()), 0.0);
  for (size_t r = 0; r < capacity_.size(); ++r) {
    const auto held =
        static_cast<double>(std::max<int64_t>(capacity[static_cast<ResourceId>(r)], 0));
    // A resource's history starts at its steady state the first time the cluster has any.
    capacity_[r] = capacity_[r] == 0 ? held * tau_ms_ : capacity_[r] * d + held * tau_ms_ * (1 - d);
  }
  const WallMs previous = started_ ? at_ : now;
  at_ = now;
  started_ = true;
  plant_seeds(now);

  ++round_;
  for (const auto& [queue, totals] : usage) {
    const bool holds = !totals.allocated.is_zero();
    auto it = entries_.find(queue);
    if (it == entries_.end()) {
      if (!holds) continue;
      it = entries_.try_emplace(queue).first;
      it->second.at = previous;
      known_.insert(queue);
    }
    advance_entry(it->second, now, &totals.allocated);
    it->second.holds = holds;
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (entry.round != round_) {  // its queue holds nothing now: it decays
      advance_entry(entry, now, nullptr);
      entry.holds = false;
    }
    const bool negligible =
        std::all_of(entry.published.shares.begin(), entry.published.shares.end(),
                    [](double share) { return share == 0; });
    it = !entry.holds && negligible ? entries_.erase(it) : std::next(it);
  }
}

void UsageHistory::advance_entry(Entry& entry, WallMs now, const ResourceVector* allocated) {
  const double d = decay(now - entry.at);
  const size_t width = std::max(entry.used.size(), allocated ? allocated->size() : 0);
  entry.used.resize(width, 0.0);
  for (size_t r = 0; r < width; ++r) {
    const double held =
        allocated
            ? static_cast<double>(std::max<int64_t>((*allocated)[static_cast<ResourceId>(r)], 0))
            : 0.0;
    entry.used[r] = entry.used[r] * d + held * tau_ms_ * (1 - d);
  }
  entry.at = now;
  entry.round = round_;
  publish(entry, now);
}

void UsageHistory::publish(Entry& entry, WallMs now) {
  std::vector<double> rounded(entry.used.size());
  for (size_t r = 0; r < rounded.size(); ++r) {
    const double capacity = at(capacity_, r);
    rounded[r] = capacity > 0 ? rounded_share(entry.used[r] / capacity) : 0;
  }
  if (rounded != entry.published.shares || entry.published.at == 0) {
    entry.published = {std::move(rounded), now};
  }
}

void UsageHistory::restore(const std::string& queue, std::span<const double> shares, WallMs at) {
  if (!known_.insert(queue).second) return;
  seeds_.emplace_back(queue, std::vector<double>(shares.begin(), shares.end()), at);
  if (started_) plant_seeds(at_);
}

// Seeds become histories once the capacity they are shares of is known; each is then advanced
// from its own time with what its queue holds.
void UsageHistory::plant_seeds(WallMs now) {
  for (auto& [queue, shares, when] : seeds_) {
    if (entries_.contains(queue)) continue;
    Entry& entry = entries_[queue];
    entry.used.resize(shares.size());
    for (size_t r = 0; r < shares.size(); ++r) entry.used[r] = shares[r] * at(capacity_, r);
    entry.at = std::min(when, now);
  }
  seeds_.clear();
}

std::vector<double> UsageHistory::shares(const std::string& queue) const {
  const auto it = entries_.find(queue);
  if (it == entries_.end()) return {};
  std::vector<double> out(it->second.used.size());
  for (size_t r = 0; r < out.size(); ++r) {
    const double capacity = at(capacity_, r);
    out[r] = capacity > 0 ? it->second.used[r] / capacity : 0;
  }
  return out;
}

const UsageHistory::Published* UsageHistory::published(const std::string& queue) const {
  const auto it = entries_.find(queue);
  return it == entries_.end() ? nullptr : &it->second.published;
}

namespace {

// Decimals that give a share four significant digits (at most 9: below a millionth is 0).
int share_decimals(double share) {
  return std::clamp(3 - static_cast<int>(std::floor(std::log10(share))), 0, 9);
}

}  // namespace

double rounded_share(double share) {
  if (!(share >= kNegligibleShare) || !std::isfinite(share)) return 0;
  const double scale = std::pow(10.0, share_decimals(share));
  return std::round(share * scale) / scale;
}

std::string usage_share_text(double share) {
  if (!(share >= kNegligibleShare) || !std::isfinite(share)) return "0";
  return fmt::format("{:.{}f}", share, share_decimals(share));
}

std::optional<double> parse_usage_share(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

}  // namespace fairway
