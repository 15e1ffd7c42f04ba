# SPDX-License-Identifier: MIT
# Socket creation from Ruby (ffi-rzmq): COUNT times ctx.socket(ZMQ::REQ) and
# close, made DEPTH Ruby calls deep (a socket's creation records its Ruby
# backtrace, whose cost grows with the stack).  Prints us_per_socket.
#
#   ruby bench/rb_sockets.rb [--count=N] [--depth=N]
require 'ffi-rzmq'

def arg(name, default)
  ARGV.each { |a| return Integer(a.split('=', 2)[1]) if a.start_with?("--#{name}=") }
  default
end

def make_and_close(ctx, count)
  count.times { ctx.socket(ZMQ::REQ).close }
end

def at_depth(depth, ctx, count)
  depth <= 0 ? make_and_close(ctx, count) : at_depth(depth - 1, ctx, count)
end

count = arg('count', 3000)
depth = arg('depth', 30)
ctx = ZMQ::Context.new
at_depth(depth, ctx, 100) # warm-up
t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
c0 = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
at_depth(depth, ctx, count)
elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - c0
ctx.terminate
printf("rb_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%d count=%d\n",
       elapsed / count * 1e6, cpu / count * 1e6, depth, count)
