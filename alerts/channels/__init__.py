"""Notification channels. Each registers with one line in :data:`CHANNEL_TYPES`."""
from ._base import Channel, Delivery, Receipt, sign
from .email import EmailChannel
from .mqtt import MqttChannel
from .robots import DingTalkRobot, SmsGateway, WeComRobot, dingtalk_sign
from .sse import Broadcaster, SseChannel
from .webhook import WebhookChannel

CHANNEL_TYPES: dict[str, type[Channel]] = {
    "webhook": WebhookChannel,
    "email": EmailChannel,
    "mqtt": MqttChannel,
    "sse": SseChannel,
    "wecom": WeComRobot,
    "dingtalk": DingTalkRobot,
    "sms": SmsGateway,
}

__all__ = ["Broadcaster", "CHANNEL_TYPES", "Channel", "Delivery", "DingTalkRobot",
           "EmailChannel", "MqttChannel", "Receipt", "SmsGateway", "SseChannel", "WeComRobot",
           "WebhookChannel", "dingtalk_sign", "sign"]
