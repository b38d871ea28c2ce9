"""Notification channels. Each registers with one line in :data:`CHANNEL_TYPES`."""
from ._base import Channel, Delivery, Receipt, mask_text, sign, verify_signature
from .aliyun_sms import AliyunSms
from .email import EmailChannel
from .mqtt import MqttChannel
from .robots import DingTalkRobot, SmsGateway, WeComRobot, dingtalk_sign
from .sse import Broadcaster, SseChannel
from .tencent_sms import TencentSms
from .webhook import WebhookChannel

CHANNEL_TYPES: dict[str, type[Channel]] = {
    "webhook": WebhookChannel,
    "email": EmailChannel,
    "mqtt": MqttChannel,
    "sse": SseChannel,
    "wecom": WeComRobot,
    "dingtalk": DingTalkRobot,
    "sms": SmsGateway,
    "aliyun_sms": AliyunSms,
    "tencent_sms": TencentSms,
}

__all__ = ["AliyunSms", "Broadcaster", "CHANNEL_TYPES", "Channel", "Delivery", "DingTalkRobot",
           "EmailChannel", "MqttChannel", "Receipt", "SmsGateway", "SseChannel", "TencentSms",
           "WeComRobot", "WebhookChannel", "dingtalk_sign", "mask_text", "sign",
           "verify_signature"]
