"""tsn-convert: pretrained weights from PyTorch .pth and Caffe .caffemodel files into tsn-tf."""
