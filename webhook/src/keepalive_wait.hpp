#pragma once
// See keepalive_wait.cpp: lets cpp-httplib's wait for a keep-alive connection's next
// request block instead of polling every 10 ms with 1 ms sleeps.
#include <chrono>

namespace nodeboot::webhook {

// Marks the current thread as serving keep-alive connections whose idle limit is
// `keep_alive`, for as long as the object lives.
class IdleWait {
 public:
  explicit IdleWait(std::chrono::milliseconds keep_alive);
  ~IdleWait();
  IdleWait(const IdleWait&) = delete;
  IdleWait& operator=(const IdleWait&) = delete;
};

}  // namespace nodeboot::webhook
