#pragma once
// Writes Events the way client-go's recorder does (tools/record): each occurrence goes through
// the EventCorrelator (event_correlator.h), then a new Event is created (POST), a repeat PATCHes
// the existing one with its count, lastTimestamp and message (strategic merge patch, as the
// recorder sends), or nothing is written when the limit says so. A PATCH answered 404 (the Event
// expired or was deleted) creates the Event afresh, with its count, as the recorder does.
//
// Thread-safe: the actuator's writer thread and the evictor share the pattern, each with its own
// recorder on its own ClusterWriter (cluster_writer.h). The clock is injected (its wall time dates
// the Events) so tests drive the correlator's windows by hand.

#include <cstdint>
#include <functional>
#include <mutex>

#include "k8s-client/objects.h"
#include "scheduler/service/cluster_writer.h"
#include "scheduler/service/event_correlator.h"
#include "scheduler/state/clock.h"

namespace fairway {

class EventRecorder {
 public:
  explicit EventRecorder(ClusterWriter& client, const Clock& clock = SystemClock::instance(),
                         EventCorrelatorOptions options = {});

  enum class Outcome {
    kCreated,  // POSTed
    kUpdated,  // PATCHed with its new count
    kDropped,  // not written: the limit (the occurrence is still counted)
    kFailed,   // the server refused it or could not be reached (logged)
  };
  Outcome record(const k8s::EventSpec& event);

 private:
  Outcome create(const k8s::EventSpec& event, const CorrelatedEvent& correlated);

  ClusterWriter& client_;
  const Clock& clock_;
  std::mutex mutex_;  // one Event at a time: the correlator's tables and the write that follows
  EventCorrelator correlator_;
};

}  // namespace fairway
