#pragma once
// events.k8s.io/v1 Events as kube-apiserver serves them: a second API over the same stored
// objects as core/v1 Events (one storage, converted on the way in and out), so an Event written
// through one API is read through the other. The field mapping is Kubernetes' conversion:
// regarding = involvedObject, note = message, reportingController = reportingComponent,
// deprecatedSource/FirstTimestamp/LastTimestamp/Count = source/firstTimestamp/lastTimestamp/count.

#include <nlohmann/json.hpp>
#include <string>

#include "sim/apiserver/store.h"

namespace fairway::apiserver {

nlohmann::json core_event_from_v1(const nlohmann::json& v1);
nlohmann::json v1_event_from_core(const nlohmann::json& core);
// A stored (core) Event as the events.k8s.io/v1 object, serialised.
Object v1_event_object(const Object& core);
// A field selector on events.k8s.io/v1 names ("regarding.name=x") in core/v1 names.
std::string core_event_field_selector(std::string selector);

}  // namespace fairway::apiserver
