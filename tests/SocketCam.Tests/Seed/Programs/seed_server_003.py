# The server program of seed tutorial 003 ("Live-Streaming-Video-Chat-App"), run as a test fixture. Unlike 002's it
# sends the length and the pickle in two sendall() calls, serves one client and exits.
#
# Changed only where the tutorial's code cannot run here (every change is marked "CHANGED"):
#   - there is no camera: cv2.VideoCapture(0) reads VIDEO_PATH, a file the test makes with ffmpeg; when the file ends,
#     the tutorial's own "Failed to capture image." branch ends the program (no looping);
#   - there is no display: the imshow/waitKey preview is gone (Enter cannot be pressed), --frames N stops after N frames;
#   - the hard-coded address ("192.168.56.1", 1254) comes from the command line (port 0: the kernel picks one) and the
#     "Server listening on" line prints the real one, flushed;
#   - "Image sent to client." becomes "sent K SHA256" (SHA-256 of frame.tobytes()) for the first --hash N frames
#     (default every frame), flushed, so a test can compare what it received;
#   - a client that goes away ends the program quietly (the tutorial's died with BrokenPipeError).
#
# usage: seed_server_003.py VIDEO_PATH [HOST] [PORT] [--frames N] [--hash N]
import pickle
import struct
import cv2
import socket
import argparse, hashlib  # CHANGED: command line, hashes

cli = argparse.ArgumentParser(description="seed tutorial 003's server, reading a video file instead of a camera")
cli.add_argument("video_path")
cli.add_argument("host", nargs="?", default="127.0.0.1")
cli.add_argument("port", nargs="?", type=int, default=1254)
cli.add_argument("--frames", type=int, default=-1, help="stop after N frames")
cli.add_argument("--hash", type=int, default=-1, help="print the SHA-256 of the first N frames (default all)")
options = cli.parse_args()

# Set up server details
port = options.port  # CHANGED: was 1254
server_ip = options.host  # CHANGED: was "0.0.0.0"
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # CHANGED: tests restart servers quickly
server_socket.bind((server_ip, port))  # Bind to the specific IP and port  # CHANGED: was ("192.168.56.1", port)
server_socket.listen(5)  # Allows the server to accept incoming connections
port = server_socket.getsockname()[1]  # CHANGED: the real port when PORT was 0

print(f"Server listening on {server_ip}:{port}...", flush=True)

# Accept client connection
client_socket, client_address = server_socket.accept()
print(f"Connection from {client_address}", flush=True)

# Set up camera for image capture
camera = cv2.VideoCapture(options.video_path)  # CHANGED: was cv2.VideoCapture(0)

if not camera.isOpened():
    print("Error: Could not access the camera.")
    exit()

sent = 0  # CHANGED
try:
    while True:
        # Capture a frame from the camera
        ret, frame = camera.read()

        if not ret:
            print("Failed to capture image.")
            break

        # Serialize the image using pickle
        img_data = pickle.dumps(frame)

        # Send the size of the image data first
        msg_size = struct.pack("Q", len(img_data))
        client_socket.sendall(msg_size)

        # Send the image data
        client_socket.sendall(img_data)
        # CHANGED: was print("Image sent to client.")
        if options.hash < 0 or sent < options.hash:
            print("sent", sent, hashlib.sha256(frame.tobytes()).hexdigest(), frame.shape, flush=True)
        sent += 1

        # CHANGED: no preview window (cv2.imshow("Server Camera", frame)); was: if cv2.waitKey(1) == 13: break
        if sent == options.frames:
            break
except (BrokenPipeError, ConnectionResetError):  # CHANGED: the client went away
    print("client went away after", sent, "frames", flush=True)
finally:
    # Clean up
    camera.release()
    client_socket.close()
    server_socket.close()
    cv2.destroyAllWindows()
print("done", sent, "frames", flush=True)  # CHANGED
