import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

# The training device
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# The data sets
train_data = torchvision.datasets.MNIST(root="./dataset", train=True, transform=torchvision.transforms.ToTensor(),
                                        download=True)
test_data = torchvision.datasets.MNIST(root="./dataset", train=False, transform=torchvision.transforms.ToTensor(),
                                       download=True)

# How long they are
train_data_size = len(train_data)
test_data_size = len(test_data)
print("Training set length: {}".format(train_data_size))
print("Test set length: {}".format(test_data_size))

# Load them with DataLoader
train_dataloader = DataLoader(train_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)


# The network
class MinistNet(nn.Module):
    def __init__(self):
        super(MinistNet, self).__init__()
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 25),
            nn.ReLU(),
            nn.Linear(25, 15),
            nn.ReLU(),
            nn.Linear(15, 10)
        )

    def forward(self, x):
        x = self.model(x)
        return x


MinistNet = MinistNet()
MinistNet = MinistNet.to(device)

# The loss function
loss_fn = nn.CrossEntropyLoss()
loss_fn = loss_fn.to(device)

# The optimizer
learning_rate = 1e-3
optimizer = torch.optim.Adam(MinistNet.parameters(), lr=learning_rate)

# Training settings
# steps trained so far
total_train_step = 0
# test rounds so far
total_test_step = 0
# epochs
epoch = 10

# TensorBoard
writer = SummaryWriter("./logs_train")

for i in range(epoch):
    print("-------Epoch {} starts-------".format(i + 1))

    # Training
    MinistNet.train()
    for data in train_dataloader:
        imgs, targets = data
        imgs = imgs.to(device)
        targets = targets.to(device)
        outputs = MinistNet(imgs)
        loss = loss_fn(outputs, targets)

        # Optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        total_train_step = total_train_step + 1
        if total_train_step % 100 == 0:
            print("Training step: {}, Loss: {}".format(total_train_step, loss.item()))
            writer.add_scalar("train_loss", loss.item(), total_train_step)

    # Testing
    MinistNet.eval()
    total_test_loss = 0
    total_accuracy = 0
    with torch.no_grad():
        for data in test_dataloader:
            imgs, targets = data
            imgs = imgs.to(device)
            targets = targets.to(device)
            outputs = MinistNet(imgs)
            loss = loss_fn(outputs, targets)
            total_test_loss = total_test_loss + loss.item()
            accuracy = (outputs.argmax(1) == targets).sum()
            total_accuracy = total_accuracy + accuracy

    print("Loss on the whole test set: {}".format(total_test_loss))
    print("Accuracy on the whole test set: {}".format(total_accuracy / test_data_size))
    writer.add_scalar("test_loss", total_test_loss, total_test_step)
    writer.add_scalar("test_accuracy", total_accuracy / test_data_size, total_test_step)
    writer.flush()
    total_test_step = total_test_step + 1

    torch.save(MinistNet.state_dict(), "model_dict{}.pth".format(i + 1))
    print("Model saved")

writer.close()
