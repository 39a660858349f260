# The server program of seed tutorial 002 ("Socket Programming in Python"), run as a test fixture.
#
# Changed only where the tutorial's code cannot run here (every change is marked "CHANGED"):
#   - there is no camera: cv2.VideoCapture(0) reads VIDEO_PATH, a file the test makes with ffmpeg. When the file
#     ends the server stops sending to that client, closes it and goes back to accept() (with --loop it starts the
#     file again instead and never stops);
#   - there is no display: the imshow/waitKey preview is gone ('q' cannot be pressed), --frames N stops after N frames;
#   - the hard-coded address ('192.168.56.1', 9999) comes from the command line (port 0: the kernel picks one);
#   - it prints what a test needs, flushed: "LISTENING AT: ('HOST', PORT)" with the real port, and
#     "sent K SHA256" for frame K (0-based, SHA-256 of frame.tobytes()) for the first --hash N frames (default:
#     every frame; --hash 0 for benchmarks, so hashing does not slow the server down);
#   - a client that goes away ends that client (the tutorial's program died with BrokenPipeError).
#
# usage: seed_server_002.py VIDEO_PATH [HOST] [PORT] [--loop] [--frames N] [--hash N]
import socket, cv2, pickle,struct
import argparse, hashlib  # CHANGED: command line, hashes

cli = argparse.ArgumentParser(description="seed tutorial 002's server, reading a video file instead of a camera")
cli.add_argument("video_path")
cli.add_argument("host", nargs="?", default="127.0.0.1")
cli.add_argument("port", nargs="?", type=int, default=9999)
cli.add_argument("--loop", action="store_true", help="start the file again when it ends")
cli.add_argument("--frames", type=int, default=-1, help="stop sending to a client after N frames")
cli.add_argument("--hash", type=int, default=-1, help="print the SHA-256 of the first N frames (default all)")
options = cli.parse_args()
VIDEO_PATH = options.video_path

server_socket = socket.socket(socket.AF_INET,socket.SOCK_STREAM)
host_name = socket.gethostname()
try:
    host_ip = socket.gethostbyname(host_name)
except OSError:  # CHANGED: a host name that does not resolve is not this test's business
    host_ip = '?'
print('HOST IP:',host_ip)
print("\t\t\t\n=================================================")
port = options.port  # CHANGED: from the command line
socket_address = (options.host,port)  # CHANGED: was ('192.168.56.1',port)
print("Socket Created")
print("\t\t\t\n=================================================")
server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # CHANGED: tests restart servers quickly
server_socket.bind(socket_address)
socket_address = server_socket.getsockname()  # CHANGED: the real port when PORT was 0
print("Socket Bind Successfully")
print("\t\t\t\n=================================================")
server_socket.listen(5)
print("LISTENING AT:",socket_address, flush=True)
print("\t\t\t\n=================================================")
print("Socket Accept")
print("\t\t\t\n=================================================")
while True:
    client_socket,addr = server_socket.accept()
    print('GOT CONNECTION FROM:',addr, flush=True)
    if client_socket:
        vid = cv2.VideoCapture(VIDEO_PATH)  # CHANGED: was cv2.VideoCapture(0)
        sent = 0
        try:
            while(vid.isOpened()):
                img,frame = vid.read()
                if not img:  # CHANGED: the file ended (the tutorial would have pickled None)
                    if options.loop and sent > 0:
                        vid.release()
                        vid = cv2.VideoCapture(VIDEO_PATH)
                        continue
                    break
                a = pickle.dumps(frame)
                message = struct.pack("Q",len(a))+a
                client_socket.sendall(message)

                # CHANGED: no preview window (cv2.imshow('TRANSMITTING VIDEO',frame) / waitKey / 'q')
                if options.hash < 0 or sent < options.hash:
                    print("sent", sent, hashlib.sha256(frame.tobytes()).hexdigest(), frame.shape, flush=True)
                sent += 1
                if sent == options.frames:
                    break
        except (BrokenPipeError, ConnectionResetError):  # CHANGED: the client went away
            print("client went away after", sent, "frames", flush=True)
        vid.release()
        client_socket.close()
        print("done", sent, "frames", flush=True)
        print("Thank you guy's")
        print("\t\t\t\n=================================================", flush=True)
