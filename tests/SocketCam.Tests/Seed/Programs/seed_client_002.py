# The client program of seed tutorial 002 ("Socket Programming in Python"), run as a test fixture.
#
# Changed only where the tutorial's code cannot run here (every change is marked "CHANGED"):
#   - the hard-coded server ('192.168.1.4', 9999) comes from the command line;
#   - there is no display: cv2.imshow("RECEIVING VIDEO", frame) counts the frame instead, and the program stops
#     after --frames N frames ('q' cannot be pressed);
#   - a server that closes the connection ends the program (the tutorial's inner loop spun forever on recv() == b"");
#   - it prints, flushed: "frame K SHAPE DTYPE SHA256" for the first --hash N frames (SHA-256 of frame.tobytes(),
#     default 1; 0 for benchmarks) and for the last one, and at the end one JSON line:
#     {"frames", "shape", "dtype", "first_sha256", "last_sha256", "seconds", "fps", "mb_per_s"}
#     where fps = (frames - 1) / (time of the last frame - time of the first frame): the receive loop's rate,
#     not counting the connection or the server's start-up. --save-last FILE writes the last frame's bytes.
#
# usage: seed_client_002.py HOST PORT [--frames N] [--hash N] [--save-last FILE]
import socket,cv2, pickle,struct
import argparse, hashlib, json, sys, time  # CHANGED: command line, measurements

cli = argparse.ArgumentParser(description="seed tutorial 002's client, counting frames instead of showing them")
cli.add_argument("host")
cli.add_argument("port", type=int)
cli.add_argument("--frames", type=int, default=100, help="stop after N frames")
cli.add_argument("--hash", type=int, default=1, help="print the SHA-256 of the first N frames (and of the last)")
cli.add_argument("--save-last", help="write the last frame's bytes (frame.tobytes()) to this file")
options = cli.parse_args()

frames = 0  # CHANGED: counting instead of showing
first_sha = last_frame = None
first_time = last_time = None
def show(frame):  # CHANGED: stands in for cv2.imshow("RECEIVING VIDEO", frame)
    global frames, first_sha, last_frame, first_time, last_time
    last_time = time.perf_counter()
    if first_time is None:
        first_time = last_time
    if frames < options.hash:
        sha = hashlib.sha256(frame.tobytes()).hexdigest()
        print("frame", frames, frame.shape, frame.dtype, sha, flush=True)
    if frames == 0:
        first_sha = hashlib.sha256(frame.tobytes()).hexdigest()
    frames += 1
    last_frame = frame

client_socket = socket.socket(socket.AF_INET,socket.SOCK_STREAM)
host_ip = options.host  # CHANGED: was '192.168.1.4'
port = options.port  # CHANGED: was 9999
print("Socket Created")
print("\t\t\t\n=================================================")

client_socket.connect((host_ip,port))
data = b""
payload_size = struct.calcsize("Q")
print("Socket Accept")
print("\t\t\t\n=================================================", flush=True)

while True:
    while len(data) < payload_size:
        packet = client_socket.recv(4*1024) # 4K
        if not packet: break
        data+=packet
    if len(data) < payload_size:  # CHANGED: the server closed the connection
        print("server closed the connection after", frames, "frames", flush=True)
        break
    packed_msg_size = data[:payload_size]
    data = data[payload_size:]
    msg_size = struct.unpack("Q",packed_msg_size)[0]
    
    while len(data) < msg_size:
        packet = client_socket.recv(4*1024)  # CHANGED: was data += client_socket.recv(4*1024), which spun on b""
        if not packet: raise ConnectionError("server closed the connection in the middle of a frame")
        data += packet
    frame_data = data[:msg_size]
    data  = data[msg_size:]
    frame = pickle.loads(frame_data)
    show(frame)  # CHANGED: was cv2.imshow("RECEIVING VIDEO",frame)
    if frames == options.frames:  # CHANGED: was key = cv2.waitKey(1) & 0xFF / if key == ord('q'): no keyboard here
        break
client_socket.close()

# CHANGED: what the test reads
if last_frame is not None:
    last_sha = hashlib.sha256(last_frame.tobytes()).hexdigest()
    print("frame", frames - 1, last_frame.shape, last_frame.dtype, last_sha, flush=True)
    if options.save_last:
        with open(options.save_last, "wb") as f:
            f.write(last_frame.tobytes())
seconds = (last_time - first_time) if frames > 1 else 0.0
fps = (frames - 1) / seconds if seconds > 0 else 0.0
print(json.dumps({
    "frames": frames,
    "shape": list(last_frame.shape) if last_frame is not None else None,
    "dtype": str(last_frame.dtype) if last_frame is not None else None,
    "first_sha256": first_sha,
    "last_sha256": last_sha if last_frame is not None else None,
    "seconds": round(seconds, 4),
    "fps": round(fps, 2),
    "mb_per_s": round(fps * last_frame.nbytes / 1e6, 2) if last_frame is not None else 0.0,
}), flush=True)

print("Thank you guy's")
print("\t\t\t\n=================================================")
