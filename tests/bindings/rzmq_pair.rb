# SPDX-License-Identifier: MIT
# Ruby's ffi-rzmq (Ruby FFI: dlopen + dlsym on libzmq, every call made with
# the GVL released) with Ruby threads.
#   shared  thread "sender-main" sends on a PAIR (it owns it), then thread
#           "intruder" sends on the same socket: a misuse
#   gvl     as shared, but the intruder's send is a libzmq function attached
#           without :blocking, so it is made with the GVL held
#   fork    main has sockets when it forks; the child makes its own context
#           and runs `shared` there (Ruby servers fork their workers)
#   names   as shared, with names longer than the OS keeps (15 bytes), one
#           of them not ASCII, and a name for the main thread, which Ruby
#           never gives the OS
#   rename  as names, but the owner renames itself after it took the socket
#   ok      each thread its own PUSH on one context, and a PULL handed to a
#           thread before it is used: silent
require 'ffi-rzmq'

# zmq_send attached as Ruby FFI attaches by default: the GVL stays held
# during the call (ffi-rzmq releases it for every libzmq function).
module HeldGVL
  extend FFI::Library
  ffi_lib ::LibZMQ.ffi_libraries.map(&:name)
  attach_function :zmq_send, [:pointer, :pointer, :size_t, :int], :int
end

def make_pair(ctx, name)
  tx = ctx.socket(ZMQ::PAIR)
  rx = ctx.socket(ZMQ::PAIR)
  tx.bind("inproc://#{name}")
  rx.connect("inproc://#{name}")
  [tx, rx]
end

def send_job(sock, text)
  sock.send_string(text)
end

def send_holding_gvl(sock, text)
  HeldGVL.zmq_send(sock.socket, text, text.bytesize, 0)
end

def shared(ctx, held_gvl = false, names = ['sender-main', 'intruder'], rename = nil)
  tx, rx = make_pair(ctx, 'rb')
  turn = Queue.new
  done = Queue.new
  owner = Thread.new do
    Thread.current.name = names[0]
    send_job(tx, 'one')
    Thread.current.name = rename if rename
    turn << :go
    done.pop # still alive, still the owner, while the intruder sends
  end
  intruder = Thread.new do
    Thread.current.name = names[1]
    turn.pop
    held_gvl ? send_holding_gvl(tx, 'two') : send_job(tx, 'two')
    done << :ok
  end
  [owner, intruder].each(&:join)
  2.times { s = ''; rx.recv_string(s) }
  [tx, rx].each(&:close)
end

def ok(ctx)
  pull = ctx.socket(ZMQ::PULL)
  pull.bind('inproc://rb')
  workers = (1..2).map do |i|
    Thread.new do
      Thread.current.name = "worker-#{i}"
      push = ctx.socket(ZMQ::PUSH)
      push.connect('inproc://rb')
      send_job(push, "job #{i}")
      push.close
    end
  end
  workers.each(&:join)
  collector = Thread.new do
    Thread.current.name = 'collector'
    2.times { s = ''; pull.recv_string(s) }
    pull.close
  end
  collector.join
end

def forked(ctx)
  tx, rx = make_pair(ctx, 'parent')
  pid = fork do
    shared(ZMQ::Context.new)
    exit!(0) # the inherited context is the parent's to terminate
  end
  Process.wait(pid)
  raise "child failed: #{$?.inspect}" unless $?.success?
  [tx, rx].each(&:close)
end

ctx = ZMQ::Context.new
case ARGV[0]
when 'fork' then forked(ctx)
when 'shared' then shared(ctx)
when 'gvl' then shared(ctx, true)
when 'names'
  Thread.main.name = 'the-main-thread-of-rzmq-pair'
  shared(ctx, false, ['sender-main-with-a-long-name', 'intruder-ünd-a-long-name'])
when 'rename' then shared(ctx, false, ['owner-before-the-rename', 'intruder'], 'owner-after-the-rename')
else ok(ctx)
end
ctx.terminate
puts 'ruby done'
