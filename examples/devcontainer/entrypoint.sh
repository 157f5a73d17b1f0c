#!/bin/sh
# Keeps the devcontainer running; attach with: kubectl exec -it deploy/devcontainer -- bash
cat /etc/motd
exec sleep infinity
