#pragma once
// Every reason fairway writes on pods, PodGroups and Events, in one list: code that writes a
// reason takes it from here, and docs/scheduling.md's reasons table is checked against this
// list both ways (tests/unit/scheduler/cmd/reasons_docs_test.cpp).
//
// The rule (as a kube-scheduler user expects): a pod's PodScheduled=False condition carries
// kube-scheduler's reasons only, SchedulingGated for a gated pod and Unschedulable for every
// other wait, with a message that names the cause, and its Event is FailedScheduling, so
// kubectl, cluster-autoscaler and anything else that reads them see what kube-scheduler would
// write. fairway's own reason for the wait (QueueLimit, GangIncomplete, ReclaimInProgress, ...)
// is on the PodGroup: its Scheduled condition and its Events, and in `fairway explain`.

#include <array>
#include <string_view>

namespace fairway::reasons {

// kube-scheduler's PodScheduled=False reasons: the only ones pods show.
inline constexpr std::string_view kUnschedulable = "Unschedulable";
inline constexpr std::string_view kSchedulingGated = "SchedulingGated";
inline constexpr std::array<std::string_view, 2> kPodCondition = {kUnschedulable, kSchedulingGated};

// Why a job waits, indexed by PendingReason (scheduler/cycle/cycle.h): the reason of its
// PodGroup's Scheduled=False condition and of the PodGroup's Warning Events.
inline constexpr std::array<std::string_view, 8> kPending = {
    kUnschedulable, "GangIncomplete",    "QueueLimit",      "QueueInvalid",
    "InvalidPod",   "ReclaimInProgress", "QueueNotAllowed", kSchedulingGated};

// A PodGroup's Scheduled condition when no pending reason applies.
inline constexpr std::string_view kGroupScheduled = "Scheduled";  // minMember pods bound
inline constexpr std::string_view kGroupPending = "Pending";      // not yet tried
inline constexpr std::array<std::string_view, 2> kPodGroupCondition = {kGroupScheduled,
                                                                       kGroupPending};

// Events on pods: a bind, a wait (kube-scheduler's two), and evictions (on the victim and on
// the pod they make room for; scheduler/service/evictions.cpp).
inline constexpr std::string_view kScheduled = "Scheduled";
inline constexpr std::string_view kFailedScheduling = "FailedScheduling";
inline constexpr std::string_view kPreempted = "Preempted";
inline constexpr std::string_view kReclaimed = "Reclaimed";
inline constexpr std::string_view kConsolidated = "Consolidated";
inline constexpr std::string_view kStaleGang = "GangIncomplete";  // a gang below minMember
inline constexpr std::string_view kPreempting = "Preempting";
inline constexpr std::string_view kReclaiming = "Reclaiming";
inline constexpr std::string_view kConsolidating = "Consolidating";
inline constexpr std::string_view kEvictionFailed = "EvictionFailed";
inline constexpr std::array<std::string_view, 10> kPodEvent = {
    kScheduled, kFailedScheduling, kPreempted,  kReclaimed,     kConsolidated,
    kStaleGang, kPreempting,       kReclaiming, kConsolidating, kEvictionFailed};

}  // namespace fairway::reasons
