// The loop's inbox: questions from HTTP threads that time out are never answered late.

#include "scheduler/service/inbox.h"

#include <gtest/gtest.h>

#include <thread>

namespace fairway {
namespace {

TEST(AskLoop, AQuestionGivenUpOnIsNeverRunLater) {
  // A /debug request or an admission check whose loop was busy past its timeout: the loop must
  // not do the work afterwards (nobody waits for it, and the question may refer to the caller's
  // frame, gone by then).
  Inbox inbox;
  const std::atomic<bool> stopping{false};
  int runs = 0;
  const auto answer = ask_loop<int>(inbox, stopping, std::chrono::milliseconds(0),
                                    [&runs](ClusterState&) { return ++runs; });
  EXPECT_FALSE(answer.has_value());
  ClusterState state;
  inbox.answer(state);  // the loop gets to it only now
  EXPECT_EQ(runs, 0);
}

TEST(AskLoop, ALoopThatAnswersGivesTheAnswer) {
  Inbox inbox;
  const std::atomic<bool> stopping{false};
  ClusterState state;
  std::atomic<bool> done{false};
  std::thread loop([&] {
    while (!done) {
      inbox.answer(state);
      std::this_thread::yield();
    }
  });
  const auto answer =
      ask_loop<int>(inbox, stopping, std::chrono::seconds(30), [](ClusterState&) { return 42; });
  done = true;
  loop.join();
  EXPECT_EQ(answer, 42);
}

}  // namespace
}  // namespace fairway
