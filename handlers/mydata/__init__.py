"""MyData (個人化資料自主運用平臺): the cryptography and package format shared by the client and the sandbox."""
